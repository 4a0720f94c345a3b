"""Closed-vocabulary ranking accuracy: the LLM's loss over each candidate answer, lowest wins.

Used for validation during training (synthetic ``val`` split, best-checkpoint selection)
and for the held-out ``test`` accuracy of the demo table. Chance is the mean of
``1 / len(candidates)`` over the items asked, reported next to the accuracy.
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


@dataclass
class RankingResult:
    """Accuracy of ranking ``n`` items, with chance and a per-attribute breakdown."""

    accuracy: float = 0.0
    chance: float = 0.0
    n: int = 0
    skipped: int = 0
    per_attribute: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self, prefix: str = "") -> dict[str, Any]:
        return {f"{prefix}accuracy": self.accuracy, f"{prefix}chance": self.chance,
                f"{prefix}n": self.n, f"{prefix}per_attribute": self.per_attribute}


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
                     attributes: Sequence[str] | None = None) -> RankingResult:
    """Rank the candidates of each eligible item of ``dataset`` (a ``FeatureDataset``).

    ``model.candidate_losses(example, candidates)`` gives one loss per candidate; the
    prediction is the lowest. Items whose media fail to load are counted as skipped.
    The projectors are put in eval mode for the pass and restored after; RNG streams are
    left untouched so validation inside a run does not change its training.
    """
    projectors = list(getattr(model, "projectors", {}).values())
    modes = [p.training for p in projectors]
    for p in projectors:
        p.eval()
    correct = asked = skipped = 0
    chance = 0.0
    per: dict[str, list[float]] = {}
    try:
        with preserved_rng():
            total = len(dataset) if limit is None else min(limit, len(dataset))
            for index in range(total):
                item = dataset.item(index)
                if not eligible(item, attributes):
                    continue
                try:
                    example = dataset[index]
                except MediaError:
                    skipped += 1
                    continue
                candidates = list(item.candidates)
                losses = model.candidate_losses(example, candidates)
                hit = float(candidates[int(torch.argmin(losses))] == item.target)
                correct += int(hit)
                asked += 1
                chance += 1.0 / len(candidates)
                stats = per.setdefault(attribute_of(item.task), [0.0, 0.0, 0.0])
                stats[0] += hit
                stats[1] += 1
                stats[2] += 1.0 / len(candidates)
    finally:
        for p, mode in zip(projectors, modes, strict=True):
            p.train(mode)
    return RankingResult(
        accuracy=correct / asked if asked else 0.0,
        chance=chance / asked if asked else 0.0,
        n=asked,
        skipped=skipped,
        per_attribute={a: {"accuracy": s[0] / s[1], "chance": s[2] / s[1], "n": int(s[1])}
                       for a, s in sorted(per.items())},
    )


def low_chance_attributes(vocabularies: dict[str, Sequence[str]], max_chance: float = 0.25
                          ) -> list[str]:
    """Attributes whose closed vocabulary makes chance at most ``max_chance``."""
    return sorted(a for a, values in vocabularies.items()
                  if values and 1.0 / len(values) <= max_chance + 1e-9)
