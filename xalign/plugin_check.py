"""``xalign plugins check NAME``: run the plugin contract on an installed plugin and name what
is wrong.

For every modality the plugin registers: synthesize is deterministic and its labels belong to
the declared vocabularies; write → load round-trips an item (a file with one of the
modality's extensions); a corrupt file raises :class:`~xalign.errors.MediaError` naming it.
For every encoder it registers that runs offline (stand-ins, and the modality's default):
``preprocess`` gives a finite ``Tensor[F, ...]`` for the raw item and for the reloaded file
alike, and the network gives ``[F, T, feature_dim]`` (``T = tokens_per_frame`` when
declared). Pretrained encoders are listed as skipped: checking them would fetch weights.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xalign.encoders.component import Encoder
from xalign.errors import MediaError
from xalign.modality import Modality
from xalign.registry import Registry, get_registry


@dataclass
class CheckReport:
    plugin: str
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_plugin(name: str, registry: Registry | None = None) -> CheckReport:
    """Check the installed plugin ``name`` (its entry-point name)."""
    registry = registry or get_registry()
    report = CheckReport(name)
    info = registry.plugins.get(name)
    if info is None:
        report.problems.append(f"no installed plugin {name!r}; installed: "
                               f"{', '.join(sorted(registry.plugins)) or '(none)'}")
        return report
    if info.error:
        report.problems.append(f"plugin {name!r} is broken: {info.error}")
        return report
    with tempfile.TemporaryDirectory(prefix=f"xalign-check-{name}-") as tmp:
        for modality_name in info.modalities:
            _check_modality(registry, registry.modalities[modality_name], Path(tmp), report)
        for key in info.encoders:  # encoders added to another plugin's modality
            modality_name = key.split("/", 1)[0]
            if modality_name not in info.modalities and modality_name in registry.modalities:
                encoder = registry.encoder(modality_name, key.split("/", 1)[1])
                sample = registry.modalities[modality_name].synthesize(0)
                _check_encoder(encoder, sample.raw, None, report)
    if not info.modalities and not info.encoders and not info.projectors:
        report.problems.append(f"plugin {name!r} registers nothing (no register_* hook ran)")
    return report


def _step(report: CheckReport, what: str, check: Callable[[], str | None]) -> Any:
    """Run one check; a returned string or an exception is a problem named after ``what``."""
    try:
        problem = check()
    except Exception as exc:
        problem = f"raised {type(exc).__name__}: {exc}"
    if problem:
        report.problems.append(f"{what}: {problem}")
    else:
        report.passed.append(what)


def _check_modality(registry: Registry, modality: Modality, tmp: Path,
                    report: CheckReport) -> None:
    m = modality.name
    first, again = modality.synthesize(0), modality.synthesize(0)
    _step(report, f"{m}: synthesize(0) is deterministic", lambda: _same_sample(first, again))
    _step(report, f"{m}: sample labels are in the declared attributes",
          lambda: _labels(first.attributes, modality.attributes))
    loaded: dict[str, Any] = {}

    def round_trip() -> str | None:
        path = Path(modality.write(first.raw, tmp / f"{m}-item"))
        if not modality.accepts(path):
            return f"write() made {path.name}, whose suffix is not in {modality.extensions}"
        loaded["raw"], loaded["path"] = modality.load(path), path
        return None

    _step(report, f"{m}: write → load round trip", round_trip)
    _step(report, f"{m}: a corrupt file raises MediaError naming it",
          lambda: _corrupt_file(modality, tmp))
    if not registry.encoders_for(m):
        report.problems.append(f"{m}: no encoder is registered (register_encoders)")
    for encoder in registry.encoders_for(m):
        if registry.owner(encoder.key) != report.plugin:
            continue  # checked with the plugin that registered it
        if not (encoder.stand_in or encoder.id == modality.encoder):
            report.skipped.append(f"{encoder.key}: pretrained (checking it would fetch weights)")
            continue
        _check_encoder(encoder, first.raw, loaded.get("raw"), report)


def _check_encoder(encoder: Encoder, raw: Any, reloaded: Any, report: CheckReport) -> None:
    key = encoder.key
    inputs: dict[str, Any] = {}

    def preprocess() -> str | None:
        tensor = encoder.preprocess(raw, False)
        problem = _frames(tensor)
        if problem is None and reloaded is not None:
            again = encoder.preprocess(reloaded, False)
            if tuple(again.shape) != tuple(tensor.shape):
                return (f"the reloaded file gives shape {tuple(again.shape)}, the raw item "
                        f"{tuple(tensor.shape)}")
        inputs["tensor"] = tensor
        return problem

    _step(report, f"{key}: preprocess gives a finite Tensor[F, ...]", preprocess)
    if "tensor" not in inputs:
        return

    def forward() -> str | None:
        features = encoder.instantiate()(inputs["tensor"])
        frames = inputs["tensor"].shape[0]
        want = (frames, encoder.tokens_per_frame or features.shape[1], encoder.feature_dim)
        if tuple(features.shape) != want:
            return f"features {tuple(features.shape)}, declared [F, T, d] = {want}"
        return None

    _step(report, f"{key}: the network gives [F, tokens_per_frame, feature_dim]", forward)


def _frames(tensor: Any) -> str | None:
    import torch

    if not isinstance(tensor, torch.Tensor) or tensor.ndim < 2 or tensor.shape[0] < 1:
        return f"expected Tensor[F, ...] with F >= 1, got {getattr(tensor, 'shape', tensor)!r}"
    if not torch.isfinite(tensor).all():
        return "contains NaN or inf"
    return None


def _same_sample(a: Any, b: Any) -> str | None:
    if a.caption != b.caption or dict(a.attributes) != dict(b.attributes):
        return f"two calls gave {a.caption!r} / {b.caption!r}"
    if not np.array_equal(_array(a.raw), _array(b.raw)):
        return "two calls gave different raw items"
    return None


def _array(raw: Any) -> np.ndarray:
    if isinstance(raw, (list, tuple)):
        return np.stack([_array(r) for r in raw])
    if hasattr(raw, "detach"):
        return raw.detach().cpu().numpy()
    return np.asarray(raw)


def _labels(labels: Any, vocabularies: Any) -> str | None:
    wrong = [f"{k}={v!r}" for k, v in dict(labels).items()
             if k not in vocabularies or v not in vocabularies[k]]
    return f"not in Modality.attributes: {', '.join(wrong)}" if wrong else None


def _corrupt_file(modality: Modality, tmp: Path) -> str | None:
    path = tmp / f"corrupt{modality.extensions[0]}"
    path.write_bytes(b"\x00\x13 not a media file " * 8)
    try:
        modality.load(path)
    except MediaError as exc:
        return None if path.name in str(exc) else f"the MediaError does not name the file: {exc}"
    except Exception as exc:
        return f"raised {type(exc).__name__} instead of MediaError: {exc}"
    return "load() accepted garbage bytes"
