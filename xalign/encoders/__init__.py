"""Frozen encoders: one interface, ``Tensor[N, ...] -> features Tensor[N, T, d]``.

Names resolve on first access (PEP 562) so that ``xalign.encoders.component`` (the
registration dataclass) imports without torch.
"""

from __future__ import annotations

from xalign.lazy import lazy_exports

_EXPORTS = {
    "Encoder": "xalign.encoders.component",
    "FrozenEncoder": "xalign.encoders.frozen",
    "freeze": "xalign.encoders.frozen",
    "TinyTransformer": "xalign.encoders.tiny",
    "seeded": "xalign.encoders.tiny",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
