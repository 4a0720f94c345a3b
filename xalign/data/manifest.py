"""JSONL manifests: one supervised example per line (format in docs/data.md).

A line looks like::

    {"id": "a1", "media": [{"modality": "audio", "path": "audio/a1.wav"}],
     "instruction": "What is making the sound?", "answer": "a dog"}

``media`` may also be a mapping ``{"audio": "audio/a1.wav"}`` (one input per modality,
in key order). Instead of ``instruction`` a line may give ``task`` ("caption",
"qa:<attribute>", "classify:<attribute>") and the instruction is drawn from the
templates, deterministically from the id. Relative paths resolve against ``root``
or, by default, the manifest's folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xalign.errors import XalignError
from xalign.modality import Modality

from .items import TrainItem, check_index
from .templates import make_item

REQUIRED = ("media", "answer")


class ManifestError(XalignError):
    """A manifest line is not valid JSON or misses a field; names the file and the line."""

    def __init__(self, path: str | Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; bad JSON raises ManifestError."""
    if not path.is_file():
        raise XalignError(f"manifest not found: {path}")
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(path, number, f"invalid JSON: {exc.msg} "
                                                  f"(column {exc.colno})") from None
            if not isinstance(record, dict):
                raise ManifestError(path, number, f"expected a JSON object, got "
                                                  f"{type(record).__name__}")
            yield number, record


def _media(record: dict[str, Any], fail: Any) -> list[tuple[str, str]]:
    media = record["media"]
    if isinstance(media, dict):
        media = [{"modality": k, "path": v} for k, v in media.items()]
    if not isinstance(media, list) or not media:
        fail("'media' must be a non-empty list of {\"modality\", \"path\"} objects "
             "or a {modality: path} mapping")
    out = []
    for n, entry in enumerate(media):
        if not isinstance(entry, dict):
            fail(f"media[{n}] must be an object with 'modality' and 'path'")
        for name in ("modality", "path"):
            if not isinstance(entry.get(name), str) or not entry[name]:
                fail(f"media[{n}] is missing field {name!r}")
        out.append((entry["modality"], entry["path"]))
    return out


def _modality(name: str) -> Modality | None:
    from xalign.registry import get_registry

    return get_registry().modalities.get(name)


class ManifestSource:
    """Items read from a JSONL manifest; parsed once, eagerly, so errors surface early.

    ``tasks`` keeps only the lines whose task equals one of them or starts with
    ``"<task>:"`` (``tasks=("classify",)`` keeps every ``classify:<attribute>`` line).
    """

    def __init__(self, path: str | Path, root: str | Path | None = None,
                 tasks: Sequence[str] | None = None) -> None:
        self.path = Path(path)
        self.root = Path(root) if root is not None else self.path.parent
        self.name = f"manifest-{self.path.stem}"
        self.items: list[TrainItem] = []
        seen: dict[str, int] = {}
        for number, record in iter_jsonl(self.path):
            item = self._parse(number, record)
            if item.id in seen:
                raise ManifestError(self.path, number, f"duplicate id {item.id!r} "
                                                       f"(first on line {seen[item.id]})")
            seen[item.id] = number
            if tasks is None or any(item.task == t or item.task.startswith(t + ":")
                                    for t in tasks):
                self.items.append(item)

    def _parse(self, number: int, record: dict[str, Any]) -> TrainItem:
        def fail(reason: str) -> None:
            raise ManifestError(self.path, number, reason)

        missing = [name for name in REQUIRED if name not in record]
        if "instruction" not in record and "task" not in record:
            missing.append("instruction (or task)")
        if missing:
            fail("missing field" + ("s " if len(missing) > 1 else " ")
                 + ", ".join(repr(m) for m in missing))
        media = [(m, self._resolve(p)) for m, p in _media(record, fail)]
        item_id = str(record.get("id", f"{self.path.stem}-{number}"))
        answer, task = record["answer"], str(record.get("task", ""))
        if not isinstance(answer, str):
            fail(f"'answer' must be a string, got {type(answer).__name__}")
        attributes = record.get("attributes", {})
        candidates = record.get("candidates", [])
        if not isinstance(attributes, dict) or not isinstance(candidates, list):
            fail("'attributes' must be an object and 'candidates' a list")
        attributes = {str(k): str(v) for k, v in attributes.items()}
        captions = record.get("captions", [])
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions) \
                or len(captions) not in (0, len(media)):
            fail(f"'captions' must be a list of {len(media)} string(s), one per media input")
        instruction = record.get("instruction")
        if instruction is None:
            instruction, candidates = self._templated(record, media, task, answer, fail)
        elif not isinstance(instruction, str):
            fail(f"'instruction' must be a string, got {type(instruction).__name__}")
        return TrainItem(id=item_id, media=media, instruction=instruction, target=answer,
                         task=task, attributes=attributes, candidates=tuple(candidates),
                         captions=tuple(captions))

    def _templated(self, record: dict[str, Any], media: list[tuple[str, Path]], task: str,
                   answer: str, fail: Any) -> tuple[str, list[str]]:
        modality = _modality(media[0][0])
        if modality is None:
            fail(f"line has no 'instruction' and modality {media[0][0]!r} is not installed, "
                 f"so its task template cannot be used")
        base, _, attr = task.partition(":")
        if base not in ("caption", "qa", "classify") or (base != "caption" and not attr):
            fail(f"task {task!r} has no template; use 'caption', 'qa:<attribute>' or "
                 f"'classify:<attribute>', or give an 'instruction'")
        attributes = {str(k): str(v) for k, v in record.get("attributes", {}).items()}
        if attr:
            attributes.setdefault(attr, answer)
        item = make_item(modality, "", media[0][1], answer, attributes, task,
                         key=("manifest", record.get("id", "")), yes_no=False)
        candidates = record.get("candidates") or list(item.candidates)
        return item.instruction, candidates

    def _resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> TrainItem:
        return self.items[check_index(i, len(self.items), self.name)]
