"""Frozen encoders: one interface, ``Tensor[N, ...] -> features Tensor[N, T, d]``."""

from xalign.encoders.frozen import FrozenEncoder, freeze
from xalign.encoders.tiny import TinyTransformer, seeded

__all__ = ["FrozenEncoder", "TinyTransformer", "freeze", "seeded"]
