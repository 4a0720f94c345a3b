"""pluggy hook specifications: the single entry point a plugin implements.

A plugin module exposes, under the entry-point group ``xalign``, any of three hooks::

    from xalign import hookimpl

    @hookimpl
    def register_modalities(register):
        register(Modality(name="audio", ...))

    @hookimpl
    def register_encoders(register):
        register(Encoder(id="tiny", modality="audio", ...))

    @hookimpl
    def register_projectors(register):
        register("resampler", "my_package.resampler:ResamplerProjector")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # at run time these stay unimported: listing plugins must not load torch
    from xalign.encoders.component import Encoder
    from xalign.modality import Modality

PROJECT = "xalign"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_modalities(register: Callable[[Modality], None]) -> None:
    """Call ``register(modality)`` once for each modality the plugin provides."""


@hookspec
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Call ``register(encoder)`` for each frozen encoder the plugin provides, for its own
    modality or for one that another distribution provides."""


@hookspec
def register_projectors(register: Callable[[str, type], None]) -> None:
    """Call ``register(kind, cls)`` for each projector kind the plugin provides; ``cls`` is a
    :class:`xalign.projectors.base.Projector` subclass built from a ``ProjectorConfig``, or
    its import path ``"package.module:Class"`` so that the class (and torch) loads on first
    use."""
