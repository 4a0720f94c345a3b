"""Frozen audio encoders: the seeded tiny one (:mod:`.tiny`), BEATs (:mod:`.beats_checkpoint`)
and transformers AST / CLAP / Whisper (:mod:`.hf_audio`, inputs from :mod:`.features`).

Light on purpose: the plugin's registration imports :func:`is_beats_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

BEATS_SUFFIXES = (".pt", ".pth")


def is_beats_checkpoint(source: str) -> bool:
    """A ``.pt``/``.pth`` file, or a directory holding exactly one (the official layout)."""
    path = Path(source).expanduser()
    if path.suffix.lower() in BEATS_SUFFIXES:
        return True
    return path.is_dir() and not (path / "config.json").exists() and len(
        [p for p in path.iterdir() if p.suffix.lower() in BEATS_SUFFIXES]) == 1
