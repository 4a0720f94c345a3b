"""Build a DisCRn set from two captioned collections (DESIGN §4).

Stages, each counted in :class:`StageCounts`:

1. properties: the LLM lists three properties per caption (entities with none parsed drop);
2. pairing: each entity of the first modality is paired with one of the 10 captions of the
   second modality most similar to its own (all-MiniLM-L6-v2 cosine) among 500 random
   candidates (identical captions are never paired: no question could tell them apart);
3. triplets: the LLM writes (question, answer, explanation) with three in-context
   examples; a triplet whose answer does not name exactly one entity is malformed;
4. round trip: the LLM answers the question from the two captions; the triplet is kept
   when rapidfuzz ``partial_ratio(prediction, answer) > 90`` (DESIGN's 0.90).

Records come out in the released format (``sample_ids``, ``label``, ``question``,
``captions``, ``properties``, ``start_seconds`` when known) plus ``id``, ``modalities``,
``answer``, ``explanation`` and ``media`` (paths), which the evaluator reads.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from xalign.datagen import prompts
from xalign.datagen.captions import Captioned
from xalign.datagen.embedding import Embedder
from xalign.datagen.textgen import TextGenerator
from xalign.eval.matching import named_positions, synonym_sets

ANSWER_TEXT = ("Entity A", "Entity B")


@dataclass
class StageCounts:
    """How many candidates each stage received and kept."""

    captions: dict[str, int] = field(default_factory=dict)
    with_properties: dict[str, int] = field(default_factory=dict)
    pairs: int = 0
    triplets_generated: int = 0
    triplets_wellformed: int = 0
    round_trip_kept: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DiscrnBuildConfig:
    candidates: int = 500  # random candidates per entity
    top_k: int = 10  # pair with one of the k most similar
    threshold: float = 90.0  # rapidfuzz partial_ratio, 0-100
    max_entities: int | None = None  # entities of the first modality to use
    max_new_tokens: int = 96
    seed: int = 0


def get_properties(llm: TextGenerator, items: Sequence[Captioned], max_new_tokens: int,
                   ) -> list[list[str]]:
    outputs = llm.complete([prompts.properties_prompt(it.caption) for it in items],
                           max_new_tokens, prefill=prompts.PROPERTIES_PREFILL)
    return [prompts.parse_properties(text) for text in outputs]


def pair_entities(first: Sequence[Captioned], second: Sequence[Captioned], embed: Embedder,
                  candidates: int = 500, top_k: int = 10, seed: int = 0,
                  ) -> list[tuple[int, int]]:
    """``(i, j)``: entity ``first[i]`` paired with ``second[j]`` (see module doc)."""
    if not first or not second:
        return []
    rng = random.Random(seed)
    vectors = embed([x.caption for x in first] + [x.caption for x in second])
    va, vb = vectors[: len(first)], vectors[len(first):]
    pairs = []
    for i, item in enumerate(first):
        pool = rng.sample(range(len(second)), min(candidates, len(second)))
        own = item.caption.strip().lower()
        pool = [j for j in pool if second[j].caption.strip().lower() != own
                and second[j].id != item.id]
        if not pool:
            continue
        sims = vb[pool] @ va[i]
        best = [pool[k] for k in np.argsort(-sims, kind="stable")[:top_k]]
        pairs.append((i, rng.choice(best)))
    return pairs


def answer_label(answer: str) -> int | None:
    """0 or 1 when the answer names exactly one entity (A/1/first or B/2/second)."""
    named = named_positions(answer, synonym_sets())
    return named[0] if len(named) == 1 else None


def build_discrn(first: Sequence[Captioned], second: Sequence[Captioned], llm: TextGenerator,
                 embed: Embedder, config: DiscrnBuildConfig | None = None,
                 ) -> tuple[list[dict[str, Any]], StageCounts]:
    """DisCRn records pairing entities of ``first`` (shown first) with ``second``."""
    config = config or DiscrnBuildConfig()
    counts = StageCounts()
    first = list(first)[: config.max_entities] if config.max_entities else list(first)
    second = list(second)
    props: list[list[list[str]]] = []
    kept_lists: list[list[Captioned]] = []
    for items in (first, second):
        name = items[0].modality if items else "?"
        found = get_properties(llm, items, config.max_new_tokens)
        keep = [k for k, p in enumerate(found) if p]
        counts.captions[name] = len(items)
        counts.with_properties[name] = len(keep)
        kept_lists.append([items[k] for k in keep])
        props.append([found[k] for k in keep])
    (a_items, b_items), (a_props, b_props) = kept_lists, props

    pairs = pair_entities(a_items, b_items, embed, config.candidates, config.top_k, config.seed)
    counts.pairs = len(pairs)
    raw = llm.complete([prompts.triplet_prompt(a_items[i].caption, b_items[j].caption)
                        for i, j in pairs], config.max_new_tokens,
                       prefill=prompts.TRIPLET_PREFILL)
    candidates = []  # (pair index, triplet, label)
    for p, text in enumerate(raw):
        triplets = prompts.parse_triplets(text)
        counts.triplets_generated += len(triplets)
        for t in triplets:
            label = answer_label(t.answer)
            if label is not None and t.question.strip():
                candidates.append((p, t, label))
    counts.triplets_wellformed = len(candidates)

    checks = llm.complete([prompts.ROUND_TRIP.format(a=a_items[pairs[p][0]].caption,
                                                     b=b_items[pairs[p][1]].caption, q=t.question)
                           for p, t, _ in candidates], max_new_tokens=8,
                          prefill=prompts.ROUND_TRIP_PREFILL)
    records = []
    for (p, t, label), prediction in zip(candidates, checks, strict=True):
        if fuzz.partial_ratio(prediction.lower(), ANSWER_TEXT[label].lower()) <= config.threshold:
            continue
        i, j = pairs[p]
        a, b = a_items[i], b_items[j]
        record: dict[str, Any] = {
            "id": f"discrn-{len(records):06d}", "modalities": [a.modality, b.modality],
            "sample_ids": [a.id, b.id], "label": label, "question": t.question,
            "answer": ANSWER_TEXT[label], "explanation": t.explanation,
            "captions": [a.caption, b.caption], "properties": [a_props[i], b_props[j]],
            "round_trip": prediction,
        }
        if a.start_seconds is not None or b.start_seconds is not None:
            record["start_seconds"] = [a.start_seconds or 0, b.start_seconds or 0]
        if a.path and b.path:
            record["media"] = [a.path, b.path]
        records.append(record)
    counts.round_trip_kept = len(records)
    return records, counts
