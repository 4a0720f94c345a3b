"""xalign plugin for 3D: point clouds and meshes -> 8,192 normalised points -> frozen encoder.

Names import on first access, so registering the plugin stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EXTENSIONS": "xalign_plugin_3d.loading",
    "load": "xalign_plugin_3d.loading",
    "NUM_POINTS": "xalign_plugin_3d.preprocess",
    "ATTRIBUTES": "xalign_plugin_3d.synthetic",
    "synthesize": "xalign_plugin_3d.synthetic",
    "write": "xalign_plugin_3d.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xalign_plugin_3d' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
