"""3D encoders: ``build_encoder(source)`` -> :class:`FrozenEncoder` ``[N, 8192, 3] -> [N, T, d]``.

* ``None``, ``"tiny"`` or its recorded id (``xalign-3d-tiny-3``): the built-in seeded tiny
  encoder, ``[N, 2, 256]`` (pooled cell token and local-geometry token);
* a local path (a ``.pt``/``.pth``/``.safetensors`` file or a folder holding
  one): a ULIP-2 PointBERT checkpoint, ``[N, 513, 512]`` by default (see
  :mod:`xalign_plugin_3d.encoders.pointbert` for what the tokens are).
"""

from __future__ import annotations

from pathlib import Path

from xalign.encoders import FrozenEncoder
from xalign.errors import UnknownNameError
from xalign_plugin_3d.encoders.tiny import TINY_DIM, TINY_ID, build_tiny_encoder
from xalign_plugin_3d.encoders.ulip import load_ulip_pointbert

ENCODERS = ("tiny", "ULIP-2 PointBERT (path to a local checkpoint)")


def build_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """The tiny encoder for ``None``/``"tiny"``; a ULIP-2 PointBERT for a checkpoint path."""
    if source is None or str(source) in ("tiny", TINY_ID):
        return build_tiny_encoder()
    if not Path(source).exists():
        raise UnknownNameError(
            "3d encoder", str(source), ["tiny", TINY_ID],
            hint="or give the path of a ULIP-2 PointBERT checkpoint (.pt, .pth, .safetensors)",
        )
    model = load_ulip_pointbert(source)
    return FrozenEncoder(model, model.cfg.feature_dim, f"ulip2-pointbert:{source}")


__all__ = ["ENCODERS", "TINY_DIM", "build_encoder"]
