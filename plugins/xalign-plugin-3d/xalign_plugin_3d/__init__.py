"""xalign plugin for 3D: point clouds and meshes -> 8,192 normalised points -> frozen encoder.

Names import on first access, so registering the plugin stays light.
"""

from __future__ import annotations

from xalign.lazy import lazy_exports

_EXPORTS = {
    "EXTENSIONS": "xalign_plugin_3d.loading",
    "load": "xalign_plugin_3d.loading",
    "NUM_POINTS": "xalign_plugin_3d.preprocess",
    "ATTRIBUTES": "xalign_plugin_3d.synthetic",
    "synthesize": "xalign_plugin_3d.synthetic",
    "write": "xalign_plugin_3d.synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
