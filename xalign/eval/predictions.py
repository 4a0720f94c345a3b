"""Predictions made elsewhere: JSONL lines ``{"id": ..., "prediction": "..."}``.

Reading is strict so that a comparison between systems never rests on a silent
mismatch: malformed JSON names the line, and unknown or duplicate ids fail with
the ids named.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from xalign.errors import XalignError


def listing(ids: Iterable[str], limit: int = 10) -> str:
    ids = sorted(ids)
    more = f" (and {len(ids) - limit} more)" if len(ids) > limit else ""
    return ", ".join(repr(i) for i in ids[:limit]) + more


def read_predictions(path: str | Path, known_ids: Collection[str] | None = None,
                     described: str = "the data") -> dict[str, str]:
    """``id -> prediction`` of a JSONL file; checks ids against ``known_ids`` when given
    (``described`` says what they are in the error)."""
    path = Path(path)
    if not path.is_file():
        raise XalignError(f"{path}: predictions file not found")
    out: dict[str, str] = {}
    duplicates: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj: Any = json.loads(line)
            except json.JSONDecodeError as exc:
                raise XalignError(f"{path}: line {lineno}: malformed JSON: {exc.msg}") from exc
            if not isinstance(obj, dict) or "id" not in obj or "prediction" not in obj:
                raise XalignError(f'{path}: line {lineno}: expected {{"id": ..., "prediction": '
                                  f'"..."}}, got {line.strip()[:80]}')
            key, prediction = str(obj["id"]), obj["prediction"]
            if not isinstance(prediction, str):
                raise XalignError(f"{path}: line {lineno}: prediction must be a string")
            if key in out:
                duplicates.add(key)
            out[key] = prediction
    if duplicates:
        raise XalignError(f"{path}: duplicate ids: {listing(duplicates)}")
    if known_ids is not None:
        unknown = set(out) - set(known_ids)
        if unknown:
            raise XalignError(f"{path}: ids not in the data: {listing(unknown)}; expected "
                              f"ids of {described}, e.g. {listing(known_ids, 3)}")
    return out


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write one JSON object per line (UTF-8); creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return path
