"""pluggy hook specifications: the single entry point a plugin implements.

A plugin module exposes, under the entry-point group ``xalign``::

    from xalign import hookimpl

    @hookimpl
    def register_modalities(register):
        register(Modality(name="audio", ...))
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from xalign.modality import Modality

PROJECT = "xalign"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_modalities(register: Callable[[Modality], None]) -> None:
    """Call ``register(modality)`` once for each modality the plugin provides."""
