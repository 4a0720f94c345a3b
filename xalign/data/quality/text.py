"""Text checks: duplicate instructions about the same media, answer lengths and form, and the
balance of modalities, tasks, instruction templates and attribute values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from xalign.data.items import TrainItem

from .report import AnswerStats, Distribution, DuplicateInstruction

TOP_INSTRUCTIONS = 20


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: "Describe  the image!" and
    "describe the image" are one instruction."""
    return " ".join(default_process(text).split())


def duplicate_instructions(items: Sequence[TrainItem], digests: Mapping[str, str],
                           threshold: float) -> list[DuplicateInstruction]:
    """Lines whose instruction repeats (equal after :func:`normalise`) an earlier line's about
    the same media content (a copy of a file counts as the same media), or nearly repeats it
    (rapidfuzz ratio >= ``threshold``) with the same answer: "What is its colour?" and "What
    is its count?" differ by one word and are two questions, told apart by their answers.
    Each line is reported once, against the earliest line it repeats. The same template
    asked about different media is not a duplicate: that is template balance."""
    groups: dict[tuple[str, ...], list[tuple[TrainItem, str]]] = {}
    for item in items:
        key = tuple(f"{m}:{digests.get(str(p), str(p))}" for m, p in item.media)
        groups.setdefault(key, []).append((item, normalise(item.instruction)))
    found = []
    for lines in groups.values():
        for j, (item, text) in enumerate(lines):
            for earlier, earlier_text in lines[:j]:
                exact = text == earlier_text
                same = normalise(item.target) == normalise(earlier.target)
                score = 100.0 if exact else fuzz.ratio(text, earlier_text)
                if exact or (same and score >= threshold):
                    found.append(DuplicateInstruction(item.id, earlier.id, item.instruction,
                                                      round(score, 2), exact, same))
                    break
    order = {item.id: n for n, item in enumerate(items)}
    return sorted(found, key=lambda d: order[d.line])


def answer_stats(items: Sequence[TrainItem]) -> AnswerStats:
    """Length in words of every answer; empty answers; answers outside their candidates."""
    words = np.array([len(item.target.split()) for item in items], dtype=float)
    quantiles = (np.percentile(words, [0, 50, 90, 100]) if len(words) else np.zeros(4))
    empty = [item.id for item in items if not item.target.strip()]
    outside = [item.id for item in items if item.candidates and item.target.strip()
               and normalise(item.target) not in {normalise(c) for c in item.candidates}]
    histogram = Counter(int(w) for w in words)
    return AnswerStats(
        count=len(items), mean=round(float(words.mean()) if len(words) else 0.0, 3),
        percentiles={k: round(float(v), 2) for k, v in zip(("p0", "p50", "p90", "p100"),
                                                            quantiles, strict=True)},
        histogram={str(k): histogram[k] for k in sorted(histogram)},
        empty=empty, not_in_candidates=outside)


def balance(items: Sequence[TrainItem]) -> dict[str, object]:
    """Distributions over lines: modalities (each input of a line counts), tasks, distinct
    normalised instructions (the templates in use), and each attribute's values."""
    modalities = Counter(m for item in items for m, _ in item.media)
    tasks = Counter(item.task or "(none)" for item in items)
    instructions = Counter(normalise(item.instruction) for item in items)
    attributes: dict[str, Counter[str]] = {}
    for item in items:
        for name, value in item.attributes.items():
            attributes.setdefault(name, Counter())[value] += 1
    return {"modalities": Distribution.of(dict(modalities)),
            "tasks": Distribution.of(dict(tasks)),
            "instructions": Distribution.of(dict(instructions), top=TOP_INSTRUCTIONS),
            "attributes": {k: Distribution.of(dict(v)) for k, v in sorted(attributes.items())}}
