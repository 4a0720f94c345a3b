"""Projector kinds by name, and the builder that turns a config into a module.

The built-in kinds (``qformer``, ``linear``, ``mlp``) and every kind a plugin registers
through the ``register_projectors`` hook live in one table, :class:`xalign.registry.Registry`'s
``projectors``; :func:`register_projector` adds one in-process (tests, notebooks).
"""

from __future__ import annotations

from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig
from xalign.registry import ProjectorKind, get_registry


def projector_kinds() -> list[str]:
    """Names accepted as ``ProjectorConfig.kind``."""
    return sorted(get_registry().projectors)


def register_projector(kind: str, cls: type[Projector]) -> None:
    """Add a projector kind in-process; the class takes a :class:`ProjectorConfig`."""
    if not (isinstance(cls, type) and issubclass(cls, Projector)):
        raise TypeError(f"projector kind {kind!r} must be a Projector subclass, got {cls!r}")
    get_registry().projectors[kind] = ProjectorKind(kind, cls, "in-process")


def build_projector(config: ProjectorConfig) -> Projector:
    """A freshly initialised projector for ``config``."""
    return get_registry().projector_class(config.kind)(config)
