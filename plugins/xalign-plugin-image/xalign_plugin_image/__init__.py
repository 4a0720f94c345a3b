"""xalign image modality: load and synthesise still images; tiny and pretrained encoders.

Published for other plugins (the video plugin): :func:`preprocess_frames` (the per-frame
transform of any image encoder id), :func:`build_tower`, :data:`TOWERS` and the tiny
network (:func:`build_tiny_backbone`, :data:`TINY_DIM`). Names import
on first access, so registering the plugin stays light.
"""

from __future__ import annotations

from xalign.lazy import lazy_exports

_EXPORTS = {
    "load": "xalign_plugin_image.loading",
    "to_rgb": "xalign_plugin_image.loading",
    "synthesize": "xalign_plugin_image.synthetic",
    "write": "xalign_plugin_image.synthetic",
    "preprocess_frames": "xalign_plugin_image.transforms",
    "build_tower": "xalign_plugin_image.encoders.hf",
    "build_tiny_encoder": "xalign_plugin_image.encoders.tiny",
    "build_tiny_backbone": "xalign_plugin_image.encoders.tiny",
    "TINY_DIM": "xalign_plugin_image.encoders.tiny",
    "TOWERS": "xalign_plugin_image.towers",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
