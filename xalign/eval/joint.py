"""Joint reasoning (paper Table 5): questions that need both views of one entity.

A synthetic entity here has two views, e.g. a video and a sound (generated from
held-out test seeds). The question asks for one attribute seen only in the first view
and one heard only in the second ("What is the colour of the video and the pitch of
the audio?"); the answer is the pair of values. Candidates are every pair of values
of the two closed vocabularies and the model ranks them by LLM loss, so an input
that shows one view can get at most its own half right: with one view, accuracy is
bounded by 1 / (size of the other vocabulary). Reported: accuracy with both views
and with each view alone, and per part (was the first or second value right).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xalign.data.synthetic import sample_seed, synthesize
from xalign.data.templates import noun_of, rng_for
from xalign.eval.discrn.run import subsample_frames
from xalign.eval.discrn.score import bootstrap_interval
from xalign.featurize import featurize
from xalign.model import Example, MediaFeatures
from xalign.registry import get_registry

QUESTION = "What is the {a1} of the {n1} and the {a2} of the {n2}?"
MAX_CANDIDATES = 16


@dataclass(frozen=True)
class JointExample:
    id: str
    modalities: tuple[str, str]
    media: tuple[Any, Any]  # raw synthetic objects
    question: str
    candidates: tuple[str, ...]
    answer: int  # index into candidates
    parts: tuple[tuple[str, ...], tuple[str, ...]]  # the part of each candidate per view


def _attribute_pairs(m1: Any, m2: Any) -> list[tuple[str, str]]:
    pairs = [(a1, a2) for a1, a2 in itertools.product(sorted(m1.attributes), sorted(m2.attributes))
             if len(m1.attributes[a1]) * len(m2.attributes[a2]) <= MAX_CANDIDATES]
    if not pairs:
        raise ValueError(f"{m1.name} and {m2.name} have no attributes with small vocabularies")
    return pairs


def joint_pair(names: Sequence[str]) -> tuple[str, str] | None:
    """The first pair of installed modalities (DisCRn's order) whose attributes make joint
    questions, or ``None``."""
    from xalign.eval.discrn.synth import default_pairs

    registry = get_registry()
    for a, b in default_pairs(names):
        try:
            _attribute_pairs(registry.get(a), registry.get(b))
        except ValueError:
            continue
        return (a, b)
    return None


def synthetic_joint(modalities: tuple[str, str], n: int = 24,
                    seed: int = 0) -> list[JointExample]:
    """``n`` two-view entities with a two-part question (deterministic from ``seed``)."""
    registry = get_registry()
    m1, m2 = registry.get(modalities[0]), registry.get(modalities[1])
    attribute_pairs = _attribute_pairs(m1, m2)
    out = []
    for i in range(n):
        s1 = synthesize(m1, sample_seed(seed, "test", i))
        s2 = synthesize(m2, sample_seed(seed, "test", i))
        a1, a2 = attribute_pairs[rng_for("joint", seed, i).randrange(len(attribute_pairs))]
        v1, v2 = m1.attributes[a1], m2.attributes[a2]
        combos = list(itertools.product(v1, v2))
        answer = combos.index((str(s1.attributes[a1]), str(s2.attributes[a2])))
        out.append(JointExample(
            id=f"joint-{m1.name}-{m2.name}-{i:04d}", modalities=(m1.name, m2.name),
            media=(s1.raw, s2.raw),
            question=QUESTION.format(a1=a1.replace("_", " "), n1=noun_of(m1),
                                     a2=a2.replace("_", " "), n2=noun_of(m2)),
            candidates=tuple(f"{x} and {y}" for x, y in combos), answer=answer,
            parts=(tuple(x for x, _ in combos), tuple(y for _, y in combos))))
    return out


def evaluate_joint(model: Any, examples: Sequence[JointExample], encoders: Mapping[str, Any],
                   frames: int | None = 2, seed: int = 0) -> dict[str, Any]:
    """Accuracy with both views and with each alone (see module doc)."""
    registry = get_registry()
    results: dict[str, list[tuple[bool, bool, bool]]] = {}
    for ex in examples:
        feats = [MediaFeatures(m, subsample_frames(featurize(registry.get(m), encoders[m], raw),
                                                   frames))
                 for m, raw in zip(ex.modalities, ex.media, strict=True)]
        conditions = {"both": feats, f"{ex.modalities[0]} only": feats[:1],
                      f"{ex.modalities[1]} only": feats[1:]}
        for name, media in conditions.items():
            losses = model.candidate_losses(Example(media=list(media), instruction=ex.question),
                                            list(ex.candidates))
            pick = int(losses.argmin())
            results.setdefault(name, []).append((
                pick == ex.answer, ex.parts[0][pick] == ex.parts[0][ex.answer],
                ex.parts[1][pick] == ex.parts[1][ex.answer]))
    chance = sum(1 / len(ex.candidates) for ex in examples) / max(1, len(examples))
    systems = {}
    for name, rows in results.items():
        correct = [r[0] for r in rows]
        systems[name] = {
            "n": len(rows), "accuracy": sum(correct) / len(rows),
            "ci95": list(bootstrap_interval(correct, seed)),
            "part_accuracy": [sum(r[1] for r in rows) / len(rows),
                              sum(r[2] for r in rows) / len(rows)],
        }
    return {"modalities": list(examples[0].modalities) if examples else [],
            "chance": chance, "systems": systems}
