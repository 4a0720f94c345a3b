"""The order in which a run visits its data, and fetching batches with bad items skipped.

Epoch ``e`` visits the items in a permutation seeded by ``(seed, e)``; global micro-batch
``b`` of an epoch is positions ``[b*G, (b+1)*G)`` with ``G = batch_size * world_size``
(an incomplete last batch is dropped), and process ``r`` takes every ``world_size``-th of
them starting at ``r``. The position in the data is therefore just ``(epoch, batch)``: a
checkpoint stores it and a resumed run continues with the very same items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xalign.data import SkipReport
from xalign.errors import MediaError


@dataclass
class DataCursor:
    """Where the run is in its data: the next micro-batch is ``batch`` of ``epoch``."""

    epoch: int = 0
    batch: int = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}


class BatchPlan:
    """Deterministic micro-batches of dataset indices for one process (see module doc)."""

    def __init__(self, size: int, batch_size: int, world_size: int = 1, rank: int = 0,
                 seed: int = 0) -> None:
        if size <= 0:
            raise ValueError("the training set is empty")
        self.size, self.batch_size = size, batch_size
        self.world_size, self.rank, self.seed = world_size, rank, seed
        self.global_batch = batch_size * world_size
        # a data set smaller than one global batch still yields one (with repeats)
        self.batches_per_epoch = max(1, size // self.global_batch)
        self.cursor = DataCursor()
        self._order_epoch: int | None = None
        self._order: torch.Tensor | None = None

    def order(self, epoch: int) -> torch.Tensor:
        """The item permutation of ``epoch`` (independent of every global RNG)."""
        if self._order_epoch != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.size, generator=generator)
            if self.size < self.global_batch:
                perm = perm.repeat(self.global_batch // self.size + 1)
            self._order, self._order_epoch = perm, epoch
        assert self._order is not None
        return self._order

    def indices(self, epoch: int, batch: int) -> list[int]:
        """This process's dataset indices of micro-batch ``batch`` in ``epoch``."""
        start = batch * self.global_batch
        window = self.order(epoch)[start:start + self.global_batch]
        return [int(i) for i in window[self.rank::self.world_size]]

    def next(self) -> tuple[int, list[int]]:
        """``(epoch, indices)`` of the next micro-batch; advances the cursor."""
        cursor = self.cursor
        if cursor.batch >= self.batches_per_epoch:
            cursor.epoch, cursor.batch = cursor.epoch + 1, 0
        epoch, indices = cursor.epoch, self.indices(cursor.epoch, cursor.batch)
        cursor.batch += 1
        return epoch, indices

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cursor = DataCursor(int(state["epoch"]), int(state["batch"]))


@dataclass
class Fetched:
    """One micro-batch: the examples that loaded, their indices, and the skipped ones."""

    examples: list[Any] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    skipped: int = 0


def item_id(dataset: Any, index: int) -> str:
    """A readable id of a dataset item (the source's id when there is one)."""
    try:
        return str(dataset.item(index).id)
    except Exception:
        return f"#{index}"


class SkipLog:
    """Bad-item accounting of one process: a :class:`SkipReport` plus a live JSONL file.

    Each skipped item is appended to ``path`` at once (a crash keeps the list); an item is
    counted once however many epochs meet it.
    """

    def __init__(self, path: Path | None) -> None:
        self.report = SkipReport()
        self.path = path
        self._ids: set[str] = set()

    def add(self, item: str, error: MediaError) -> None:
        if item in self._ids:
            return
        self._ids.add(item)
        self.report.add_error(item, error)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"item_id": item, "path": error.path,
                                    "reason": error.reason}, ensure_ascii=False) + "\n")

    @property
    def count(self) -> int:
        return self.report.count

    def state_dict(self) -> list[list[str]]:
        return [[s.item_id, s.path, s.reason] for s in self.report.skips]

    def load_state_dict(self, entries: list[list[str]]) -> None:
        """Restore the skips recorded before a checkpoint and rewrite the JSONL to match."""
        self.report, self._ids = SkipReport(), set()
        for item, path, reason in entries:
            self._ids.add(item)
            self.report.add(item, path, reason)
        if self.path is not None:
            self.report.write_jsonl(self.path)


def fetch(dataset: Any, indices: list[int], skips: SkipLog) -> Fetched:
    """Load the examples of ``indices``; an item whose media fails is skipped and logged."""
    out = Fetched()
    for index in indices:
        skips.report.mark_seen()
        try:
            example = dataset[index]
        except MediaError as exc:
            skips.add(item_id(dataset, index), exc)
            out.skipped += 1
            continue
        out.examples.append(example)
        out.indices.append(index)
    return out
