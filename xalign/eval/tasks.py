"""Single-modality evaluations: classification, captioning (CIDEr-D), short-answer QA.

Each takes a model (``XAlignModel`` or anything with ``generate`` / ``candidate_losses``)
and a ``FeatureDataset`` and returns ``(report, rows)``: a JSON-able summary and one row
per item (id, prediction, reference, verdict) for a predictions JSONL.
"""

from __future__ import annotations

from typing import Any

import torch

from xalign.data.skips import SkipReport
from xalign.eval.cider import cider_d
from xalign.eval.discrn.score import bootstrap_interval
from xalign.eval.single import accuracy_table, answer_all, examples_of
from xalign.eval.text_match import exact_match, match_label
from xalign.ranking import rank_losses


def _attribute(task: str) -> str:
    return task.partition(":")[2] or task or "all"


@torch.no_grad()
def evaluate_classification(model: Any, dataset: Any, modes: tuple[str, ...] = ("rank", "generate"),
                            batch_size: int = 8, preset: str = "short_answer",
                            limit: int | None = None, skips: SkipReport | None = None,
                            seed: int = 0, **overrides: Any) -> tuple[dict[str, Any], list[dict]]:
    """Closed vocabulary: ``rank`` picks the candidate of lowest LLM loss; ``generate``
    answers freely and maps the text to the one label it names (none or several: wrong)."""
    pairs = [(it, ex) for it, ex in examples_of(dataset, limit, skips) if len(it.candidates) >= 2]
    rows = [{"id": it.id, "task": it.task, "target": it.target,
             "candidates": list(it.candidates)} for it, _ in pairs]
    if "rank" in modes:
        ranked = rank_losses(model, [ex for _, ex in pairs],
                             [list(it.candidates) for it, _ in pairs])
        for row, (item, _), losses in zip(rows, pairs, ranked, strict=True):
            row["ranked"] = item.candidates[int(torch.argmin(losses))]
    if "generate" in modes:
        for row, text in zip(rows, answer_all(model, pairs, batch_size, preset, **overrides),
                             strict=True):
            row["generated"] = text
            row["matched"] = match_label(text, row["candidates"])
    report: dict[str, Any] = {"n": len(rows), "chance": (sum(1 / len(r["candidates"])
                                                             for r in rows) / len(rows))
                              if rows else 0.0}
    for mode, key in (("rank", "ranked"), ("generate", "matched")):
        if mode not in modes:
            continue
        hits = [r[key] == r["target"] for r in rows]
        report[mode] = {"accuracy": sum(hits) / len(hits) if hits else 0.0,
                        "ci95": list(bootstrap_interval(hits, seed)),
                        "per_attribute": accuracy_table(
                            [(_attribute(r["task"]), h) for r, h in zip(rows, hits, strict=True)])}
        if mode == "generate":
            report[mode]["unmatched"] = (sum(r["matched"] is None for r in rows) / len(rows)
                                         if rows else 0.0)
    return report, rows


def evaluate_qa(model: Any, dataset: Any, batch_size: int = 8, preset: str = "short_answer",
                limit: int | None = None, skips: SkipReport | None = None, seed: int = 0,
                **overrides: Any) -> tuple[dict[str, Any], list[dict]]:
    """Exact match after normalising case, articles and punctuation."""
    pairs = list(examples_of(dataset, limit, skips))
    answers = answer_all(model, pairs, batch_size, preset, **overrides)
    rows = [{"id": it.id, "task": it.task, "question": it.instruction, "target": it.target,
             "prediction": a, "correct": exact_match(a, it.target)}
            for (it, _), a in zip(pairs, answers, strict=True)]
    hits = [r["correct"] for r in rows]
    return {"n": len(rows), "exact_match": sum(hits) / len(hits) if hits else 0.0,
            "ci95": list(bootstrap_interval(hits, seed)),
            "per_task": accuracy_table([(r["task"], r["correct"]) for r in rows])}, rows


def _media_key(item: Any) -> str:
    paths = item.media_paths()
    return "|".join(paths) if len(paths) == len(item.media) else item.id


def evaluate_captioning(model: Any, dataset: Any, batch_size: int = 8, preset: str = "caption",
                        limit: int | None = None, skips: SkipReport | None = None,
                        **overrides: Any) -> tuple[dict[str, Any], list[dict]]:
    """CIDEr-D of one generated caption per media item against all its reference captions
    (items sharing the same media files pool their references)."""
    pairs = list(examples_of(dataset, limit, skips))
    references: dict[str, list[str]] = {}
    first: dict[str, tuple[Any, Any]] = {}
    for item, example in pairs:
        key = _media_key(item)
        references.setdefault(key, []).append(item.target)
        first.setdefault(key, (item, example))
    keys = list(first)
    captions = answer_all(model, [first[k] for k in keys], batch_size, preset, **overrides)
    corpus, per = cider_d(dict(zip(keys, captions, strict=True)), references) if keys \
        else (0.0, {})
    rows = [{"id": first[k][0].id, "media": k, "prediction": c, "references": references[k],
             "cider": per.get(k, 0.0)} for k, c in zip(keys, captions, strict=True)]
    return {"n": len(keys), "references": sum(map(len, references.values())),
            "cider": corpus, "cider_x100": 100 * corpus}, rows
