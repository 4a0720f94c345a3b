"""3D encoders: the seeded tiny one (:mod:`.tiny`, ``[N, 2, 256]``) and ULIP-2 PointBERT from a
local checkpoint (:mod:`.ulip`, ``[N, 513, 512]`` by default). Both read
:func:`xalign_plugin_3d.preprocess.preprocess`'s 8,192 points.

Light on purpose: the plugin's registration imports :func:`is_pointbert_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xalign.encoders.frozen import FrozenEncoder

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")


def is_pointbert_checkpoint(source: str) -> bool:
    """A checkpoint file, or a directory holding one."""
    path = Path(source).expanduser()
    return path.suffix.lower() in CHECKPOINT_SUFFIXES or (
        path.is_dir() and any(p.suffix.lower() in CHECKPOINT_SUFFIXES for p in path.iterdir()))


def build_pointbert_encoder(source: str | None = None) -> FrozenEncoder:
    """A ULIP-2 PointBERT checkpoint (``.pt``/``.pth``/``.safetensors``, or a folder), frozen."""
    from xalign.encoders.frozen import FrozenEncoder
    from xalign.errors import CheckpointError
    from xalign_plugin_3d.encoders.ulip import load_ulip_pointbert

    if source is None:
        raise CheckpointError("ULIP-2 PointBERT weights are not downloadable: give the "
                              "checkpoint, e.g. encoder source "
                              "'ulip2-pointbert@checkpoints/ulip2_pointbert.pt'")
    if not Path(source).expanduser().exists():
        raise CheckpointError(f"ULIP-2 PointBERT checkpoint {source!r} not found")
    model = load_ulip_pointbert(source)
    return FrozenEncoder(model, model.cfg.feature_dim, f"ulip2-pointbert:{source}")
