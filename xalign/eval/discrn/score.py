"""Scoring DisCRn predictions: verdicts, accuracy breakdowns and a bootstrap interval."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xalign.eval.discrn.records import DiscrnExample
from xalign.eval.matching import CORRECT, UNMATCHED, Match, match_answer, modality_words

POSITIONS = ("first", "second")


@dataclass(frozen=True)
class Scored:
    """One prediction with its verdict."""

    example: DiscrnExample
    prediction: str
    match: Match

    @property
    def correct(self) -> bool:
        return self.match.verdict == CORRECT

    def to_row(self, system: str) -> dict[str, Any]:
        ex = self.example
        return {"id": ex.id, "system": system, "modalities": list(ex.modalities),
                "sample_ids": list(ex.sample_ids), "question": ex.question,
                "label": ex.label, "answer": POSITIONS[ex.label], "prediction": self.prediction,
                "named": [POSITIONS[i] for i in self.match.named],
                "verdict": self.match.verdict}


def default_words(modality: str) -> tuple[str, ...]:
    """Words naming an input of ``modality``: its name and, when installed, its cue word."""
    cue = None
    try:
        from xalign.registry import get_registry
        registry = get_registry()
        if modality in registry.modalities:
            cue = registry.modalities[modality].cue
    except Exception:  # scoring must work without any plugin
        cue = None
    return modality_words(modality, cue)


def score(examples: Sequence[DiscrnExample], predictions: Mapping[str, str],
          words: Callable[[str], Sequence[str]] = default_words) -> list[Scored]:
    """Verdicts for the examples that have a prediction (in example order)."""
    out = []
    for ex in examples:
        if ex.id not in predictions:
            continue
        per_position = (words(ex.modalities[0]), words(ex.modalities[1]))
        out.append(Scored(ex, predictions[ex.id], match_answer(predictions[ex.id], ex.label,
                                                                per_position)))
    return out


def bootstrap_interval(correct: Sequence[bool], seed: int = 0, resamples: int = 2000,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``correct`` (seeded, so reproducible)."""
    values = np.asarray(correct, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _group(scored: Sequence[Scored], key: Callable[[Scored], str], seed: int = 0
           ) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[key(s)].append(s)
    return {k: {"n": len(v), "accuracy": sum(s.correct for s in v) / len(v),
                "ci95": list(bootstrap_interval([s.correct for s in v], seed))}
            for k, v in sorted(groups.items())}


def summarize(scored: Sequence[Scored], seed: int = 0) -> dict[str, Any]:
    """Accuracy overall, per modality pair, per answer position and per answer modality
    (and per question kind when examples carry one); shares of unmatched answers and of
    the positions the answers named (order bias); seeded bootstrap 95% intervals, overall
    and per group."""
    n = len(scored)
    correct = [s.correct for s in scored]
    named = defaultdict(int)
    for s in scored:
        named["both" if len(s.match.named) == 2 else
              POSITIONS[s.match.named[0]] if s.match.named else "none"] += 1
    summary = {
        "n": n,
        "accuracy": sum(correct) / n if n else float("nan"),
        "ci95": list(bootstrap_interval(correct, seed)),
        "unmatched": sum(s.match.verdict == UNMATCHED for s in scored) / n if n else 0.0,
        "by_pair": _group(scored, lambda s: s.example.pair, seed),
        "by_position": _group(scored, lambda s: POSITIONS[s.example.label], seed),
        "by_answer_modality": _group(scored, lambda s: s.example.answer_modality, seed),
        "named": {k: named[k] / n if n else 0.0 for k in ("first", "second", "both", "none")},
    }
    if any("kind" in s.example.extra for s in scored):  # the mini-DisCRn's question kinds
        summary["by_kind"] = _group(scored, lambda s: str(s.example.extra.get("kind", "?")),
                                    seed)
    return summary
