"""Projector kinds by name, and the builder that turns a config into a module."""

from __future__ import annotations

from xalign.errors import UnknownNameError
from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig
from xalign.projectors.linear import LinearProjector
from xalign.projectors.mlp import MLPProjector
from xalign.projectors.qformer import QFormerProjector

_KINDS: dict[str, type[Projector]] = {
    "qformer": QFormerProjector,
    "linear": LinearProjector,
    "mlp": MLPProjector,
}


def projector_kinds() -> list[str]:
    """Names accepted as ``ProjectorConfig.kind``."""
    return sorted(_KINDS)


def register_projector(kind: str, cls: type[Projector]) -> None:
    """Add a projector kind (e.g. from a third-party package); the class takes a config."""
    if not (isinstance(cls, type) and issubclass(cls, Projector)):
        raise TypeError(f"projector kind {kind!r} must be a Projector subclass, got {cls!r}")
    _KINDS[kind] = cls


def build_projector(config: ProjectorConfig) -> Projector:
    """A freshly initialised projector for ``config``."""
    if config.kind not in _KINDS:
        raise UnknownNameError("projector", config.kind, _KINDS)
    return _KINDS[config.kind](config)
