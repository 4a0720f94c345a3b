"""Question–answer pairs from captions (DESIGN §5, paper §7.1).

Stages, each counted in :class:`QAStageCounts`:

0. only captions of at least ``min_words`` words (10 in the paper);
1. for modalities whose encoder sees no colour (3D), the LLM rewrites the caption
   without colour; a rewrite that still mentions a colour, or is empty, drops the caption;
2. the LLM lists single-word candidate answers; words not in the caption are malformed;
3. the LLM writes a question for each (caption, answer);
4. the LLM answers the question from the caption; the pair is kept when rapidfuzz
   ``partial_ratio(prediction, answer) > 90``.

Output lines use the training manifest format (``id``, ``media``, ``instruction``,
``answer``, ``task``: "qa") plus ``caption``, so they can be trained on directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rapidfuzz import fuzz

from xalign.datagen import prompts
from xalign.datagen.captions import Captioned
from xalign.datagen.textgen import TextGenerator

# Modalities whose default encoder drops colour (DESIGN §2: ULIP-2 PointBERT).
COLOURLESS = ("3d",)


@dataclass
class QAStageCounts:
    captions: int = 0
    long_enough: int = 0
    colour_free: int = 0  # after the rewrite (equals long_enough when no rewrite applies)
    answers: int = 0
    questions: int = 0
    round_trip_kept: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QABuildConfig:
    min_words: int = 10
    answers_per_caption: int = 3
    threshold: float = 90.0
    max_new_tokens: int = 48
    colourless: Collection[str] = field(default_factory=lambda: COLOURLESS)


def remove_colour(llm: TextGenerator, captions: Sequence[str], max_new_tokens: int,
                  ) -> list[str | None]:
    """Colour-free rewrites; ``None`` where the rewrite failed (empty or still coloured)."""
    ex = prompts.QA_EXAMPLE
    out = llm.complete([prompts.with_example(prompts.NO_COLOUR, ex["no_colour"], caption=c)
                        for c in captions], max_new_tokens)
    cleaned = [o.strip().strip('"').splitlines()[0].strip() if o.strip() else "" for o in out]
    return [c if c and not prompts.mentions_colour(c) else None for c in cleaned]


def build_qa(items: Sequence[Captioned], llm: TextGenerator, config: QABuildConfig | None = None,
             ) -> tuple[list[dict[str, Any]], QAStageCounts]:
    """QA lines from ``items`` (any mix of modalities) and the per-stage counts."""
    config = config or QABuildConfig()
    counts = QAStageCounts(captions=len(items))
    pool = [it for it in items if len(it.caption.split()) >= config.min_words]
    counts.long_enough = len(pool)

    texts = [it.caption for it in pool]
    needs = [k for k, it in enumerate(pool) if it.modality in config.colourless]
    if needs:
        rewrites = remove_colour(llm, [texts[k] for k in needs], config.max_new_tokens)
        dropped = set()
        for k, rewrite in zip(needs, rewrites, strict=True):
            if rewrite is None:
                dropped.add(k)
            else:
                texts[k] = rewrite
        pool = [it for k, it in enumerate(pool) if k not in dropped]
        texts = [t for k, t in enumerate(texts) if k not in dropped]
    counts.colour_free = len(pool)

    ex = prompts.QA_EXAMPLE
    raw = llm.complete([prompts.with_example(prompts.ANSWERS, ex["answers"], caption=t)
                        for t in texts], config.max_new_tokens)
    pairs = [(k, a) for k, text in enumerate(raw)
             for a in prompts.parse_answers(text, texts[k], config.answers_per_caption)]
    counts.answers = len(pairs)

    questions = llm.complete([prompts.with_example(prompts.QUESTION, ex["question"],
                                                   caption=texts[k], answer=a)
                              for k, a in pairs], config.max_new_tokens)
    asked = [(k, a, q.strip().splitlines()[0].strip()) for (k, a), q in
             zip(pairs, questions, strict=True) if q.strip() and q.strip().splitlines()[0]
             .strip().endswith("?")]
    counts.questions = len(asked)

    predictions = llm.complete([prompts.with_example(prompts.ANSWER, ex["answer"],
                                                     caption=texts[k], question=q)
                                for k, _, q in asked], max_new_tokens=8)
    lines = []
    for (k, answer, question), prediction in zip(asked, predictions, strict=True):
        if fuzz.partial_ratio(prediction.lower(), answer.lower()) <= config.threshold:
            continue
        item = pool[k]
        lines.append({"id": f"{item.id}-qa{len(lines):05d}", "task": "qa",
                      "media": [{"modality": item.modality, "path": item.path}]
                      if item.path else [], "instruction": question, "answer": answer,
                      "caption": texts[k], "source_id": item.id, "modality": item.modality,
                      "round_trip": prediction})
    counts.round_trip_kept = len(lines)
    return lines, counts
