"""Mixing several sources: sqrt(size) sampling probabilities by default (DESIGN §3), or ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .items import Source, TrainItem, check_index


def sqrt_weights(sizes: Sequence[int]) -> list[float]:
    """Sampling probabilities proportional to sqrt(size)."""
    roots = [math.sqrt(n) for n in sizes]
    total = sum(roots)
    return [r / total for r in roots]


def apportion(probabilities: Sequence[float], size: int) -> list[int]:
    """Integer counts summing to ``size``, closest to ``p * size`` (largest remainder)."""
    exact = [p * size for p in probabilities]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda k: (counts[k] - exact[k], k))
    for k in order[: size - sum(counts)]:
        counts[k] += 1
    return counts


class MixedSource:
    """A deterministic mixture of sources.

    Of the ``size`` items (default: the sum of the sources' sizes), source ``k`` provides
    ``round(p_k * size)`` with ``p`` from ``ratios`` (normalised) or sqrt(len). The positions
    of each source's items are shuffled by ``seed``; within a source, items come in a
    seeded permutation that is walked through completely before any item repeats.
    """

    def __init__(self, sources: Sequence[Source], ratios: Sequence[float] | None = None,
                 size: int | None = None, seed: int = 0) -> None:
        if not sources:
            raise ValueError("MixedSource needs at least one source")
        self.sources = list(sources)
        sizes = [len(s) for s in self.sources]
        for source, n in zip(self.sources, sizes, strict=True):
            if n == 0:
                raise ValueError(f"source {source.name!r} is empty")
        if ratios is None:
            probabilities = sqrt_weights(sizes)
        else:
            if len(ratios) != len(self.sources):
                raise ValueError(f"{len(ratios)} ratios for {len(self.sources)} sources")
            if any(r < 0 for r in ratios) or sum(ratios) <= 0:
                raise ValueError(f"ratios must be >= 0 with a positive sum, got {list(ratios)}")
            probabilities = [r / sum(ratios) for r in ratios]
        self.probabilities = probabilities
        self.size = sum(sizes) if size is None else int(size)
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        self.counts = apportion(probabilities, self.size)
        rng = np.random.default_rng([seed, 0x6D6978])
        labels = np.repeat(np.arange(len(self.sources)), self.counts)
        rng.shuffle(labels)
        self._source = labels
        # rank of each position among its source's positions
        self._rank = np.empty(self.size, dtype=np.int64)
        for k in range(len(self.sources)):
            where = np.flatnonzero(labels == k)
            self._rank[where] = np.arange(len(where))
        self._perm = [rng.permutation(n) for n in sizes]
        self.name = "mix(" + ",".join(s.name for s in self.sources) + ")"

    def __len__(self) -> int:
        return self.size

    def locate(self, i: int) -> tuple[int, int]:
        """``(source index, item index in that source)`` of mixed item ``i``."""
        i = check_index(i, self.size, self.name)
        k = int(self._source[i])
        perm = self._perm[k]
        return k, int(perm[self._rank[i] % len(perm)])

    def __getitem__(self, i: int) -> TrainItem:
        k, j = self.locate(i)
        return self.sources[k][j]
