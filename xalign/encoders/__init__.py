"""Frozen encoders: one interface, ``Tensor[N, ...] -> features Tensor[N, T, d]``.

Names resolve on first access (PEP 562) so that ``xalign.encoders.component`` (the
registration dataclass) imports without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Encoder": "xalign.encoders.component",
    "FrozenEncoder": "xalign.encoders.frozen",
    "freeze": "xalign.encoders.frozen",
    "TinyTransformer": "xalign.encoders.tiny",
    "seeded": "xalign.encoders.tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xalign.encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
