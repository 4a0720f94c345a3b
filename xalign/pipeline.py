"""The pipeline, built once: modalities and encoders from the plugin registry, projectors and
the LLM, composed into an :class:`~xalign.model.XAlignModel` that holds what it needs.

This is the one place where a projector's recorded encoder id becomes a frozen network:
:meth:`xalign.registry.Registry.resolve` maps ids that older releases recorded
(``xalign-audio-tiny-3`` → ``audio/tiny``, ``beats:/ckpt.pt`` → ``audio/beats`` with those
weights) through each encoder's ``aliases``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.errors import CheckpointError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from xalign.encoders.frozen import FrozenEncoder
    from xalign.modality import Modality
    from xalign.model import MediaFeatures, XAlignModel
    from xalign.projectors import Projector
    from xalign.registry import Registry


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from xalign.registry import get_registry

    return get_registry()


def build_encoders(projectors: Mapping[str, Projector],
                   registry: Registry | None = None) -> dict[str, FrozenEncoder]:
    """The frozen encoder each projector was trained on (by its recorded ``encoder_id``)."""
    registry = _registry(registry)
    encoders = {}
    for name, projector in projectors.items():
        config = projector.config
        modality = config.modality or name
        encoder = registry.build_encoder(modality, config.encoder_id or None)
        if encoder.feature_dim != config.feature_dim:
            raise CheckpointError(
                f"projector {name!r} expects {config.feature_dim}-d features, the {modality} "
                f"encoder {config.encoder_id!r} gives {encoder.feature_dim}-d")
        if config.encoder_weights and config.encoder_weights != encoder.weights_digest:
            raise CheckpointError(
                f"projector {name!r} was trained on the {modality} encoder "
                f"{config.encoder_id!r} with weights {config.encoder_weights}; the installed "
                f"one has weights {encoder.weights_digest or '(none recorded)'}: retrain it "
                f"(`xalign train --modality {modality}`) or install the plugin release it "
                "was trained with")
        if not config.encoder_weights and encoder.weights_digest:
            log.warning("projector %r records no encoder weights (saved before xalign recorded "
                        "them); if it was trained on other weights of the %s encoder %r than "
                        "the installed %s, its answers are meaningless: retrain it", name,
                        modality, config.encoder_id, encoder.weights_digest)
        encoders[name] = encoder
    return encoders


def check_inputs(media: Sequence[tuple[str, str | Path]],
                 registry: Registry | None = None) -> list[Modality]:
    """Check every input before any model loads: a known modality, and a readable file with
    one of its extensions. Raises :class:`~xalign.errors.MediaError` naming the file."""
    from xalign.media import check_file

    registry = _registry(registry)
    modalities = []
    for name, path in media:
        modality = registry.get(name)
        check_file(Path(path), modality.extensions)
        modalities.append(modality)
    return modalities


@dataclass
class Pipeline:
    """Everything a run needs, resolved once: the model, and per modality its plugin's
    :class:`Modality` and the frozen encoder its projector reads."""

    model: XAlignModel
    modalities: dict[str, Modality]
    encoders: dict[str, FrozenEncoder]

    def features(self, modality: str, path: str | Path) -> MediaFeatures:
        """Features of one file for ``modality`` (load → the encoder's preprocess → encoder)."""
        from xalign.featurize import featurize_file
        from xalign.model import MediaFeatures

        encoder = self.encoders[modality]
        return MediaFeatures(modality, featurize_file(self.modalities[modality], encoder, path))


def build_pipeline(projectors: Mapping[str, Projector], llm: Any, *,
                   registry: Registry | None = None, device: str | None = None,
                   **model_kwargs: Any) -> Pipeline:
    """Compose ``projectors`` (one per modality) on ``llm`` with their encoders and cues."""
    from xalign.model import XAlignModel

    registry = _registry(registry)
    modalities = {name: registry.get(p.config.modality or name) for name, p in projectors.items()}
    encoders = build_encoders(projectors, registry)
    if device is not None:
        encoders = {name: encoder.to(device) for name, encoder in encoders.items()}
    model = XAlignModel(llm, projectors, cues={n: m.cue for n, m in modalities.items()},
                        **model_kwargs)
    return Pipeline(model, modalities, encoders)
