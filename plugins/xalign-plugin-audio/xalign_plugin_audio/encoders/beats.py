"""BEATs from an official-layout checkpoint: ``[N, 512, 128]`` fbank windows -> ``[N, 256, d]``."""

from __future__ import annotations

from pathlib import Path

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import CheckpointError
from xalign_plugin_audio.encoders import BEATS_SUFFIXES


def build_beats_encoder(source: str | None = None) -> FrozenEncoder:
    """A BEATs checkpoint (``.pt`` file, or a directory holding exactly one), frozen."""
    from xalign_plugin_audio.encoders.beats_checkpoint import load_beats

    if source is None:
        raise CheckpointError("BEATs weights are not downloadable: give the checkpoint, e.g. "
                              "encoder source 'beats@checkpoints/BEATs_iter3_plus_AS2M.pt'")
    path = Path(source).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in BEATS_SUFFIXES)
        if len(found) != 1:
            raise CheckpointError(f"{path}: expected exactly one BEATs .pt/.pth file, found "
                                  f"{len(found)}")
        path = found[0]
    if not path.is_file():
        raise CheckpointError(f"BEATs checkpoint {source!r} not found")
    model = load_beats(path)
    return FrozenEncoder(model, model.cfg.encoder_embed_dim, f"beats:{path}")
