"""Frozen audio encoders: the seeded tiny one, BEATs, and transformers AST / CLAP / Whisper.

``build_encoder(source)`` picks one from ``source``:

* ``None``, ``"tiny"`` or its recorded id (``xalign-audio-tiny-3``): the built-in seeded
  encoder (256-d, 3 tokens per window: salient pool, spectral flux, onset count);
* a ``.pt`` / ``.pth`` file, or a directory holding exactly one: a BEATs checkpoint in
  the official layout (768-d for BEATs iter3+, 256 tokens per window);
* a directory with ``config.json``, or a hub id (``owner/name``): a transformers AST,
  CLAP or Whisper model, adapted to the plugin's fbank input (see :mod:`.hf_audio`).
"""

from __future__ import annotations

from pathlib import Path

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign_plugin_audio.encoders.tiny import ENCODER_ID, FEATURE_DIM, build_tiny_encoder

ENCODERS = ("tiny", "beats", "ast", "clap", "whisper")
BEATS_SUFFIXES = (".pt", ".pth")
SOURCES_HINT = ("or give a path to a BEATs .pt checkpoint, a transformers AST / CLAP / Whisper "
                "model directory, or a hub id such as MIT/ast-finetuned-audioset-10-10-0.4593")


def build_beats_encoder(path: str | Path) -> FrozenEncoder:
    """A BEATs checkpoint (official layout) as a FrozenEncoder ``[N, 512, 128] -> [N, 256, d]``."""
    from xalign_plugin_audio.encoders.beats_checkpoint import load_beats

    model = load_beats(path)
    return FrozenEncoder(model, model.cfg.encoder_embed_dim, f"beats:{path}")


def build_encoder(source: str | None = None) -> FrozenEncoder:
    """The frozen audio encoder named by ``source`` (see the module docstring)."""
    if source in (None, "tiny", ENCODER_ID):
        return build_tiny_encoder()
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix.lower() in BEATS_SUFFIXES:
            return build_beats_encoder(path)
        raise CheckpointError(f"{path}: not an audio encoder checkpoint; expected a BEATs "
                              f"{'/'.join(BEATS_SUFFIXES)} file or a transformers model directory")
    if path.is_dir():
        if (path / "config.json").is_file():
            from xalign_plugin_audio.encoders.hf_audio import build_hf_encoder

            return build_hf_encoder(str(path))
        checkpoints = sorted(p for p in path.iterdir() if p.suffix.lower() in BEATS_SUFFIXES)
        if len(checkpoints) == 1:
            return build_beats_encoder(checkpoints[0])
        raise CheckpointError(f"{path}: expected config.json (a transformers model) or exactly "
                              f"one BEATs .pt/.pth file, found {len(checkpoints)} .pt/.pth files")
    if source.startswith((".", "/", "~")) or path.suffix.lower() in BEATS_SUFFIXES:
        raise CheckpointError(f"audio encoder checkpoint {source!r} not found")
    if "/" in source:  # a hub id; transformers resolves (and caches) it
        from xalign_plugin_audio.encoders.hf_audio import build_hf_encoder

        return build_hf_encoder(source)
    raise UnknownNameError("audio encoder", source, ["tiny", ENCODER_ID], hint=SOURCES_HINT)


__all__ = ["ENCODERS", "FEATURE_DIM", "build_beats_encoder", "build_encoder"]
