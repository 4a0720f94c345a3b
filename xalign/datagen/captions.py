"""Captioned collections: the input of the DisCRn and QA builders.

A collection is a list of :class:`Captioned` items of one modality. They come from a
JSONL file with one object per line holding ``id``, ``caption``, ``modality`` and
optionally ``path`` (relative to the file's folder) and ``start_seconds`` (the
``<split>.items.jsonl`` files of ``xalign data synth`` have this form), or straight
from a plugin's synthetic generator (held-out test seeds; no media on disk).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xalign.errors import XalignError


@dataclass(frozen=True)
class Captioned:
    """One captioned media item."""

    id: str
    modality: str
    caption: str
    path: str | None = None  # absolute, or None for items that live only in memory
    start_seconds: float | None = None


def read_captions(path: str | Path, modalities: Sequence[str] | None = None,
                  ) -> dict[str, list[Captioned]]:
    """Items of a JSONL caption file grouped by modality (only ``modalities`` when given)."""
    path = Path(path)
    if not path.is_file():
        raise XalignError(f"{path}: caption file not found")
    out: dict[str, list[Captioned]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise XalignError(f"{path}: line {lineno}: malformed JSON: {exc.msg}") from exc
            missing = [k for k in ("id", "caption", "modality") if not obj.get(k)]
            if missing:
                raise XalignError(f"{path}: line {lineno}: missing {', '.join(missing)}")
            if modalities and obj["modality"] not in modalities:
                continue
            media = obj.get("path")
            if media:
                media = str((path.parent / media).resolve()) if not Path(media).is_absolute() \
                    else media
            out.setdefault(obj["modality"], []).append(Captioned(
                str(obj["id"]), obj["modality"], str(obj["caption"]), media,
                obj.get("start_seconds")))
    for name in modalities or ():
        if name not in out:
            found = ", ".join(sorted(out)) or "none"
            raise XalignError(f"{path}: no captions of modality {name!r} (found: {found})")
    return out


def synthetic_captions(modality: str, n: int, seed: int = 0, split: str = "test",
                       ) -> list[Captioned]:
    """Captions of ``n`` synthetic items of ``modality`` (the same samples as the world's
    ``split``; ids ``<modality>-<split>-<i>``)."""
    from xalign.data.synthetic import sample_seed, synthesize
    from xalign.registry import get_modality

    mod = get_modality(modality)
    return [Captioned(f"{modality}-{split}-{i:06d}", modality,
                      synthesize(mod, sample_seed(seed, split, i)).caption)
            for i in range(n)]
