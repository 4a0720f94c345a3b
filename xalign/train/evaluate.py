"""Closed-vocabulary ranking accuracy: the LLM's loss over each candidate answer, lowest wins.

Used for validation during training (synthetic ``val`` split, best-checkpoint selection)
and for the held-out ``test`` accuracy of the demo table. Chance is the mean of
``1 / len(candidates)`` over the items asked, reported next to the accuracy.

``eval.max_chance`` (default 0.25 in the tiny recipes) splits the attributes: those whose
chance is at most it make the **headline** accuracy (the one that picks the best checkpoint
and fills the demo table); the others (a two-value attribute: chance 0.5) are still asked and
reported in ``per_attribute`` with their own chance, marked ``headline: false``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from xalign.errors import MediaError
from xalign.ranking import rank_losses

ITEMS_PER_CALL = 8  # items ranked together (their candidates make the LLM batch)


@dataclass
class RankingResult:
    """Headline accuracy of ranking ``n`` items (those whose chance is at most ``max_chance``;
    all when it is ``None``) with its chance, and every attribute asked (``asked`` items) in
    ``per_attribute`` with its own accuracy, chance, ``n`` and ``headline`` flag."""

    accuracy: float = 0.0
    chance: float = 0.0
    n: int = 0
    skipped: int = 0
    per_attribute: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_chance: float | None = None
    asked: int = 0

    def as_dict(self, prefix: str = "") -> dict[str, Any]:
        return {f"{prefix}accuracy": self.accuracy, f"{prefix}chance": self.chance,
                f"{prefix}n": self.n, f"{prefix}per_attribute": self.per_attribute,
                f"{prefix}max_chance": self.max_chance, f"{prefix}asked": self.asked}


class EvalSet:
    """Evaluation items in parts (datasets with ``len``, ``item(i)`` and ``[i]``), one after
    the other, with the ``max_chance`` that picks the headline items (:func:`ranking_accuracy`
    reads it)."""

    def __init__(self, parts: Sequence[Any], max_chance: float | None = None) -> None:
        self.parts, self.max_chance = [p for p in parts if p is not None], max_chance

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def _locate(self, index: int) -> tuple[Any, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"evaluation item {index} out of range [0, {len(self)})")
        for part in self.parts:
            if index < len(part):
                return part, index
            index -= len(part)
        raise AssertionError("unreachable")  # pragma: no cover

    def item(self, index: int) -> Any:
        part, i = self._locate(index)
        return part.item(i)

    def __getitem__(self, index: int) -> Any:
        part, i = self._locate(index)
        return part[i]


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without disturbing the caller's python, numpy and torch RNG streams."""
    py, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(np_state)


def attribute_of(task: str) -> str:
    """``"classify:colour"`` -> ``"colour"``."""
    return task.partition(":")[2] or task


def eligible(item: Any, attributes: Sequence[str] | None) -> bool:
    """Whether ``item`` is a closed-vocabulary question about one of ``attributes``."""
    if len(getattr(item, "candidates", ())) < 2:
        return False
    return attributes is None or attribute_of(item.task) in attributes


@torch.no_grad()
def ranking_accuracy(model: Any, dataset: Any, limit: int | None = None,
                     attributes: Sequence[str] | None = None,
                     max_chance: float | None = None) -> RankingResult:
    """Rank the candidates of each eligible item of ``dataset`` (a ``FeatureDataset`` or an
    :class:`EvalSet`).

    :func:`~xalign.ranking.rank_losses` gives one loss per candidate, for
    :data:`ITEMS_PER_CALL` items at a time; the prediction is the lowest. Items whose media
    fail to load are counted as skipped.
    The headline accuracy counts the items whose chance ``1 / len(candidates)`` is at most
    ``max_chance`` (default: the dataset's ``max_chance``; ``None``: all items; all items too
    when none qualifies); every attribute is in ``per_attribute`` with its own chance.
    The projectors are put in eval mode for the pass and restored after; RNG streams are
    left untouched so validation inside a run does not change its training.
    """
    if max_chance is None:
        max_chance = getattr(dataset, "max_chance", None)
    projectors = list(getattr(model, "projectors", {}).values())
    modes = [p.training for p in projectors]
    for p in projectors:
        p.eval()
    skipped = 0
    per: dict[tuple[str, bool], list[float]] = {}  # (attribute, headline) -> hits, items, chance
    pending: list[tuple[Any, Any]] = []  # (item, example) waiting for one batched ranking

    def rank_pending() -> None:
        losses = rank_losses(model, [ex for _, ex in pending],
                             [list(it.candidates) for it, _ in pending])
        for (item, _), item_losses in zip(pending, losses, strict=True):
            hit = float(item.candidates[int(torch.argmin(item_losses))] == item.target)
            chance = 1.0 / len(item.candidates)
            key = (attribute_of(item.task), max_chance is None or chance <= max_chance + 1e-9)
            stats = per.setdefault(key, [0.0, 0.0, 0.0])
            stats[0] += hit
            stats[1] += 1
            stats[2] += chance
        pending.clear()

    try:
        with preserved_rng():
            total = len(dataset) if limit is None else min(limit, len(dataset))
            for index in range(total):
                item = dataset.item(index)
                if not eligible(item, attributes):
                    continue
                try:
                    pending.append((item, dataset[index]))
                except MediaError:
                    skipped += 1
                    continue
                if len(pending) == ITEMS_PER_CALL:
                    rank_pending()
            if pending:
                rank_pending()
    finally:
        for p, mode in zip(projectors, modes, strict=True):
            p.train(mode)
    if not any(headline for _, headline in per):  # nothing qualifies: the headline is all
        per = {(a, True): s for (a, _), s in per.items()}
    headline = [s for (_, h), s in per.items() if h]
    asked = sum(s[1] for s in per.values())
    n = sum(s[1] for s in headline)
    per_attribute: dict[str, dict[str, Any]] = {}
    for (a, h), s in sorted(per.items()):
        # a task asking about several attributes ("classify") may fall on both sides
        name = a if h or (a, True) not in per else f"{a} (chance > {max_chance:.0%})"
        per_attribute[name] = {"accuracy": s[0] / s[1], "chance": s[2] / s[1], "n": int(s[1]),
                               "headline": h}
    return RankingResult(
        accuracy=sum(s[0] for s in headline) / n if n else 0.0,
        chance=sum(s[2] for s in headline) / n if n else 0.0,
        n=int(n),
        skipped=skipped,
        per_attribute=per_attribute,
        max_chance=max_chance,
        asked=int(asked),
    )


def low_chance_attributes(vocabularies: dict[str, Sequence[str]], max_chance: float = 0.25
                          ) -> list[str]:
    """Attributes whose closed vocabulary makes chance at most ``max_chance``."""
    return sorted(a for a, values in vocabularies.items()
                  if values and 1.0 / len(values) <= max_chance + 1e-9)
