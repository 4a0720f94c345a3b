"""The core's own projector kinds, registered through the ``register_projectors`` hook like any
plugin's (by import path, so listing them imports no torch; outside ``xalign.projectors``,
whose package imports torch)."""

from __future__ import annotations

from collections.abc import Callable

from xalign.hookspecs import hookimpl

KINDS = {
    "qformer": "xalign.projectors.qformer:QFormerProjector",
    "linear": "xalign.projectors.linear:LinearProjector",
    "mlp": "xalign.projectors.mlp:MLPProjector",
    "resampler": "xalign.projectors.resampler:ResamplerProjector",
}


@hookimpl
def register_projectors(register: Callable[[str, str], None]) -> None:
    for kind, target in KINDS.items():
        register(kind, target)
