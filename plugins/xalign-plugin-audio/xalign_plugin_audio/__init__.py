"""xalign audio plugin: loading, Kaldi fbank, tiny/BEATs/AST/CLAP/Whisper encoders.

Names import on first access, so registering the plugin stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": "xalign_plugin_audio.loading",
    "synthesize": "xalign_plugin_audio.synthetic",
    "write": "xalign_plugin_audio.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xalign_plugin_audio' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
