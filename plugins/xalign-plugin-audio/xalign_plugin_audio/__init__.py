"""xalign audio plugin: loading, Kaldi fbank, tiny/BEATs/AST/CLAP/Whisper encoders.

Names import on first access, so registering the plugin stays light.
"""

from __future__ import annotations

from xalign.lazy import lazy_exports

_EXPORTS = {
    "load": "xalign_plugin_audio.loading",
    "synthesize": "xalign_plugin_audio.synthetic",
    "write": "xalign_plugin_audio.synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
