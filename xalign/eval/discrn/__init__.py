"""DisCRn end to end: load (or synthesise) examples, answer or read predictions, report.

Public entry points:

* :func:`load_data` - released records -> balanced examples with media paths;
* :func:`score_predictions` - score a predictions JSONL made elsewhere (no model) against
  the records exactly as written;
* :func:`evaluate` - run a model and the baselines (and optionally joint reasoning);
* :func:`make_report` - verdicts and summaries of several systems' answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xalign.data.skips import SkipReport
from xalign.errors import XalignError
from xalign.eval.discrn.media import resolve_media
from xalign.eval.discrn.records import (
    SWAPPED,
    DiscrnExample,
    balance,
    load_examples,
    swapped_id,
)
from xalign.eval.discrn.score import Scored, summarize
from xalign.eval.discrn.score import score as score_answers
from xalign.eval.predictions import listing, read_predictions


def load_data(path: str | Path, media_roots: Mapping[str, str | Path] | None = None,
              patterns: Mapping[str, str] | None = None,
              modalities: tuple[str, str] | None = None, balanced: bool = True,
              skips: SkipReport | None = None, need_media: bool = True,
              ) -> list[DiscrnExample]:
    """Examples of an annotation file, balanced by swapping, with media files resolved
    (an example whose file is missing is skipped and listed in ``skips``).

    A swapped example's id is ``<id>#swapped``: the record's own id always names the file's
    order, so answers to the balanced examples can never be scored against the file's order
    (nor the reverse)."""
    examples = load_examples(path, modalities)
    if balanced:
        examples = balance(examples, mark=True)
        _check_unique(path, (ex.id for ex in examples))
    if not need_media:
        return examples
    extensions = _extensions({m for ex in examples for m in ex.modalities})
    return resolve_media(examples, media_roots or {}, patterns, extensions, skips)


def _extensions(names: set[str]) -> dict[str, tuple[str, ...]]:
    try:
        from xalign.registry import get_registry

        registry = get_registry()
        return {n: registry.modalities[n].extensions for n in names if n in registry.modalities}
    except Exception:  # extensions only help to find files named <id>.<ext>
        return {}


def make_report(examples: Sequence[DiscrnExample], answers: Mapping[str, Mapping[str, str]],
                seed: int = 0, skips: SkipReport | None = None,
                ) -> tuple[dict[str, Any], dict[str, list[Scored]]]:
    """Score each system's answers; returns the report and the verdicts per system."""
    scored = {system: score_answers(examples, by_id) for system, by_id in answers.items()}
    report: dict[str, Any] = {
        "systems": {system: summarize(rows, seed) for system, rows in scored.items()},
        "seen": skips.seen if skips is not None and skips.seen else len(examples),
        "skipped": [vars(s) for s in skips.skips] if skips is not None else [],
        "seed": seed,
    }
    return report, scored


def _check_unique(path: str | Path, ids: Iterable[str]) -> None:
    dupes = [k for k, n in Counter(ids).items() if n > 1]
    if dupes:
        raise XalignError(f"{path}: record ids clash with the ids of swapped examples "
                          f"(<id>{SWAPPED}): {listing(dupes)}")


def prediction_set(data: str | Path, predictions: str | Path,
                   modalities: tuple[str, str] | None = None,
                   ) -> tuple[list[DiscrnExample], dict[str, str], list[str]]:
    """The examples that the predictions answer, the predictions by example id, and the ids
    of the records that have no prediction.

    Each prediction is scored against the record **exactly as written** in ``data``: no
    balancing, which only reorders the inputs xalign itself is shown. The one exception is a
    prediction whose id is ``<id>#swapped``, the id xalign gives a swapped example (its
    ``examples.jsonl`` and ``predictions.jsonl``): it answers that record with its two inputs
    swapped. An id that names neither fails with the ids named, and so does a record
    answered in both orders."""
    records = load_data(data, modalities=modalities, balanced=False, need_media=False)
    ids = {ex.id for ex in records}  # a record's own id wins over a swapped one
    swapped = {swapped_id(ex.id) for ex in records} - ids
    by_id = read_predictions(predictions, ids | swapped,
                             described=f"the records of {data}: their ids (id/instance_id/"
                                       f"question_id, else the 0-based index) name the file's "
                                       f"order, <id>{SWAPPED} the two inputs swapped")
    twice = [ex.id for ex in records if ex.id in by_id and swapped_id(ex.id) in swapped
             and swapped_id(ex.id) in by_id]
    if twice:
        raise XalignError(f"{predictions}: records answered both as written and swapped "
                          f"(<id> and <id>{SWAPPED}): {listing(twice)}")
    examples = [ex.swapped(mark=True) if swapped_id(ex.id) in swapped & by_id.keys() else ex
                for ex in records]
    missing = [ex.id for ex in examples if ex.id not in by_id]
    return examples, by_id, missing


def score_predictions(data: str | Path, predictions: str | Path,
                      modalities: tuple[str, str] | None = None, seed: int = 0,
                      system: str | None = None,
                      ) -> tuple[dict[str, Any], dict[str, list[Scored]]]:
    """Score ``{"id", "prediction"}`` lines against the records of ``data`` as written (see
    :func:`prediction_set`); no model and no media needed. Records without a prediction are
    counted and named (``missing_predictions``, ``missing_ids``), not scored."""
    examples, by_id, missing = prediction_set(data, predictions, modalities)
    report, scored = make_report(examples, {system or Path(predictions).stem: by_id}, seed)
    report["missing_predictions"] = len(missing)
    report["missing_ids"] = missing
    report["scored_against"] = "records as written"
    return report, scored


def evaluate(model: Any, examples: Sequence[DiscrnExample], encoders: Mapping[str, Any], *,
             systems: Sequence[str] = ("xalign", "text-only", "caption"), batch_size: int = 8,
             preset: str = "short_answer", frames: int | None = 2, seed: int = 0,
             skips: SkipReport | None = None, joint: Sequence[Any] | None = None,
             answer_mode: str = "generate", probe: bool = False, **overrides: Any,
             ) -> tuple[dict[str, Any], dict[str, list[Scored]]]:
    """Answer ``examples`` with the model and the baselines and build the report.

    ``probe`` adds the per-input diagnostic of :mod:`xalign.eval.discrn.probe` (mini-DisCRn
    attribute questions only)."""
    from xalign.eval.discrn.run import prepare, run_systems

    skips = skips if skips is not None else SkipReport()
    if not skips.seen:
        skips.mark_seen(len(examples))
    prepared = prepare(examples, encoders, frames, skips)
    answers = run_systems(model, prepared, systems, batch_size, preset, answer_mode,
                          **overrides)
    if probe:
        from xalign.eval.discrn.probe import SYSTEM, probe_answers

        answers[SYSTEM] = probe_answers(model, prepared)
    report, scored = make_report([p.example for p in prepared], answers, seed, skips)
    report["settings"] = {"preset": preset, "frames": frames, "batch_size": batch_size,
                          "answer_mode": answer_mode,
                          **{k: v for k, v in overrides.items() if isinstance(v, (int, float))}}
    if joint:
        from xalign.eval.joint import evaluate_joint

        report["joint"] = evaluate_joint(model, joint, encoders, frames, seed)
    return report, scored
