"""Items from a Hugging Face `datasets` data set (optional: needs ``pip install datasets``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from xalign.errors import XalignError

from .items import TrainItem, check_index


def _load_dataset() -> Any:
    try:
        return importlib.import_module("datasets").load_dataset
    except ImportError:
        raise XalignError(
            "HFSource needs the Hugging Face `datasets` package, which is not installed; "
            "install it with: pip install datasets (or convert the data to a JSONL manifest, "
            "see docs/data.md)") from None


class HFSource:
    """Items read from ``datasets.load_dataset(name_or_path, split=split, **load_kwargs)``.

    Column mapping: ``media_columns`` maps a modality name to the column holding its input
    (a path string, a ``{"path": ...}`` dict such as undecoded Audio/Image features, or an
    already decoded raw object, passed through as is); ``answer_column`` holds the target;
    ``instruction_column`` the instruction, or ``instruction`` gives one fixed instruction
    for every row. Relative paths resolve against ``root``.
    """

    def __init__(self, name_or_path: str, split: str = "train", *,
                 media_columns: dict[str, str], answer_column: str,
                 instruction_column: str | None = None, instruction: str | None = None,
                 id_column: str | None = None, task: str = "", root: str | Path | None = None,
                 **load_kwargs: Any) -> None:
        if (instruction_column is None) == (instruction is None):
            raise ValueError("give exactly one of instruction_column and instruction")
        if not media_columns:
            raise ValueError("media_columns must map at least one modality to a column")
        self.data = _load_dataset()(name_or_path, split=split, **load_kwargs)
        columns = set(getattr(self.data, "column_names", None) or
                      (self.data[0].keys() if len(self.data) else ()))
        wanted = [*media_columns.values(), answer_column, instruction_column, id_column]
        missing = [c for c in wanted if c is not None and c not in columns]
        if missing:
            raise XalignError(f"{name_or_path} ({split}) has no column(s) "
                              f"{', '.join(map(repr, missing))}; columns: "
                              f"{', '.join(sorted(columns))}")
        self.media_columns, self.answer_column = dict(media_columns), answer_column
        self.instruction_column, self.instruction = instruction_column, instruction
        self.id_column, self.task = id_column, task
        self.root = Path(root) if root is not None else None
        self.name = f"hf-{Path(name_or_path).name}-{split}"

    def __len__(self) -> int:
        return len(self.data)

    def _media(self, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("path"), str) and not value.get(
                "bytes") and "array" not in value:
            value = value["path"]
        if isinstance(value, str):
            path = Path(value)
            return path if path.is_absolute() or self.root is None else self.root / path
        return value

    def __getitem__(self, i: int) -> TrainItem:
        i = check_index(i, len(self.data), self.name)
        row = self.data[i]
        instruction = (row[self.instruction_column] if self.instruction_column
                       else self.instruction)
        return TrainItem(
            id=str(row[self.id_column]) if self.id_column else f"{self.name}-{i}",
            media=[(m, self._media(row[c])) for m, c in self.media_columns.items()],
            instruction=str(instruction), target=str(row[self.answer_column]), task=self.task)
