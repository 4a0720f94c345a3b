"""The encoder component: a frozen network together with its own reference preprocessing.

Any distribution registers encoders for an existing modality through the
``register_encoders(register)`` hook, so a third party can ship, say, a CLAP audio encoder
without touching the audio plugin::

    from xalign import hookimpl
    from xalign.encoders.component import Encoder

    @hookimpl
    def register_encoders(register):
        register(Encoder(id="clap-htsat", modality="audio", family="clap", ...))

The encoder owns its input transform (prismatic's backbone that owns its transform): the
modality plugin only decodes a file into its raw type (``Modality.load``); ``preprocess``
turns that raw item into exactly what this network's own processor would produce.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from xalign.encoders.frozen import FrozenEncoder

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Encoder:
    """One registered frozen encoder of one modality.

    ``build(source)`` returns the frozen network; ``source`` is ``None`` for the encoder's
    own default weights (shipped, or its hub id), or a hub id / local path in the same
    layout. ``preprocess(raw, train)`` maps the modality's raw item to ``Tensor[F, ...]``
    (``F`` frames, each encoded separately); the network maps ``Tensor[N, ...]`` to
    features ``Tensor[N, tokens_per_frame, feature_dim]``.
    """

    id: str                    # unique per modality, e.g. "tiny", "whisper-base"
    modality: str              # the modality whose raw items this encoder reads
    family: str                # "tiny", "whisper", "clip", "beats", ...
    build: Callable[[str | None], FrozenEncoder]  # lazy("pkg.module:fn") keeps imports light
    preprocess: Callable[[Any, bool], torch.Tensor]
    feature_dim: int
    tokens_per_frame: int | None = None  # None: depends on the input (e.g. its duration)
    stand_in: bool = False     # True for synthetic-world stand-ins, False for pretrained models
    # older ids that saved projectors may record; one ending in ':' is a prefix followed by
    # the weights' source ("beats:/ckpt/BEATs.pt")
    aliases: tuple[str, ...] = ()
    description: str = ""
    weights: str | None = None  # the default weights' hub id or file, for listings and lookup
    # whether a recipe's bare ``source`` (a path) holds weights in this encoder's layout
    matches: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        problems = validate_encoder(self)
        if problems:
            raise ValueError(f"invalid encoder {self.id!r}: " + "; ".join(problems))

    @property
    def key(self) -> str:
        """``modality/id``: how listings and errors name it."""
        return f"{self.modality}/{self.id}"

    def instantiate(self, source: str | None = None) -> FrozenEncoder:
        """Build the frozen network and tie this component to it (``frozen.spec``).

        The network records ``id`` (or ``id@source`` for other weights of the same layout) as
        its ``encoder_id``: that is what a projector trained on it saves, and what
        :meth:`xalign.registry.Registry.encoder` resolves later.
        """
        from xalign.encoders.frozen import FrozenEncoder

        frozen = self.build(source)
        if not isinstance(frozen, FrozenEncoder):
            raise TypeError(f"encoder {self.key}: build() returned {type(frozen).__name__}, "
                            "expected a FrozenEncoder")
        if source is None and frozen.feature_dim != self.feature_dim:
            raise ValueError(f"encoder {self.key}: declares feature_dim {self.feature_dim}, its "
                             f"network gives {frozen.feature_dim}")
        frozen.encoder_id = encoder_ref(self.id, source)
        frozen.spec = self
        return frozen


def encoder_ref(encoder_id: str, source: str | None) -> str:
    """What a projector records: ``id``, or ``id@source`` when other weights were loaded."""
    return encoder_id if source is None else f"{encoder_id}@{source}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """Inverse of :func:`encoder_ref`: ``"clip@/models/clip"`` -> ``("clip", "/models/clip")``."""
    encoder_id, sep, source = ref.partition("@")
    return encoder_id, (source if sep else None)


def validate_encoder(encoder: Encoder) -> list[str]:
    """List what is wrong with an encoder definition (empty when it is valid)."""
    problems = []
    for attr in ("id", "modality", "family"):
        value = getattr(encoder, attr)
        if not isinstance(value, str) or not _ID.match(value):
            problems.append(f"{attr} must be lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(encoder.aliases, tuple) or not all(
            isinstance(a, str) and a for a in encoder.aliases):
        problems.append("aliases must be a tuple of non-empty strings")
    for attr in ("build", "preprocess"):
        if not callable(getattr(encoder, attr)):
            problems.append(f"{attr} must be callable")
    if not isinstance(encoder.feature_dim, int) or encoder.feature_dim <= 0:
        problems.append("feature_dim must be a positive int")
    if encoder.tokens_per_frame is not None and (
            not isinstance(encoder.tokens_per_frame, int) or encoder.tokens_per_frame <= 0):
        problems.append("tokens_per_frame must be a positive int or None")
    return problems
