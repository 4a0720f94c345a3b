"""xalign video modality: uniformly sampled frames, each processed and encoded as an image.

Names import on first access, so registering the plugin stays light.
"""

from __future__ import annotations

from xalign.lazy import lazy_exports

_EXPORTS = {
    "build_tiny_encoder": "xalign_plugin_video.encoders",
    "frame_indices": "xalign_plugin_video.sampling",
    "num_frames": "xalign_plugin_video.sampling",
    "set_num_frames": "xalign_plugin_video.sampling",
    "load": "xalign_plugin_video.loading",
    "load_video": "xalign_plugin_video.loading",
    "preprocess_for": "xalign_plugin_video.preprocess",
    "synthesize": "xalign_plugin_video.synthetic",
    "write": "xalign_plugin_video.synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
