"""``xalign eval discrn``: cross-modal discriminative reasoning (DESIGN §4)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import typer

from xalign.errors import XalignError


def _pairs(value: str) -> list[tuple[str, str]] | None:
    if not value:
        return None
    out = []
    for item in value.split(","):
        a, sep, b = item.strip().partition("-")
        if not sep or not a or not b:
            raise XalignError(f"--pairs expects first-second[,first-second…], got {value!r}")
        out.append((a, b))
    return out


def _modalities(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    names = [m.strip() for m in value.split(",") if m.strip()]
    if len(names) != 2:
        raise XalignError(f"--modalities expects first,second, got {value!r}")
    return names[0], names[1]


def discrn(
    projector: list[Path] = typer.Option(None, "--projector", "-p",
                                         help="Projector folder; repeat once per modality."),
    data: Path = typer.Option(None, "--data", help="Released DisCRn annotation file (JSON list "
                              "or JSONL). Without it: the offline mini-DisCRn."),
    media_root: list[str] = typer.Option(None, "--media-root",
                                         help="MODALITY=DIR where that modality's files are."),
    media_pattern: list[str] = typer.Option(
        None, "--media-pattern", help="MODALITY=TEMPLATE file name under the root, with {id}, "
        "{start}, {view} (defaults: audio {id}_{start}.flac, video {id}_{start}.mp4, "
        "3d {id}/{id}_8192.npz, image {id}_{view}.jpeg)."),
    modalities: str = typer.Option(None, "--modalities", help="first,second modality of the "
                                   "records (default: read from captions_pred_* keys)."),
    predictions: Path = typer.Option(None, "--predictions", help="Score a JSONL of {id, "
                                     "prediction} made elsewhere against --data; no model."),
    out: Path = typer.Option(None, "--out", help="Folder for report.json, predictions.jsonl, "
                             "discrn.png, examples.jsonl, skipped.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    preset: str = typer.Option("short_answer", "--preset", help="Decoding preset (DESIGN §3); "
                               "'greedy' is much faster on a CPU."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1),
    frames: int = typer.Option(2, "--frames", min=1, help="Frames kept per frame-wise input."),
    answer_mode: str = typer.Option("generate", "--answer-mode", help="generate (the paper); "
                                    "rank: the likelier of 'The first one.' / 'The second "
                                    "one.' by LLM loss; debiased: rank asked in both input "
                                    "orders, the LLM's position preference cancelled; "
                                    "calibrated: debiased minus the same on content-free "
                                    "inputs (each modality's mean), its modality preference "
                                    "cancelled too."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines",
                                   help="Also score the text-only and caption baselines."),
    joint: bool = typer.Option(True, "--joint/--no-joint",
                               help="Mini-DisCRn only: also run the joint-reasoning questions."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Mini-DisCRn only: also the "
                               "per-input probe (each input alone, trained question format)."),
    as_text: list[str] = typer.Option(None, "--as-text", help="Also score xalign with this "
                                      "modality's inputs read as their true captions (repeat "
                                      "for more): which projector of a pair fails composed."),
    pairs: str = typer.Option("", "--pairs", help="Mini-DisCRn pairs, e.g. audio-video,3d-image "
                              "(default: every installed pair)."),
    per_pair: int = typer.Option(24, "--per-pair", min=2, help="Mini-DisCRn examples per pair."),
    no_balance: bool = typer.Option(False, "--no-balance",
                                    help="Show xalign the records' inputs in the file's order "
                                    "(default: balanced by swapping; a swapped example's id is "
                                    "<id>#swapped). --predictions are always scored against "
                                    "the records as written."),
    use_cue: bool = typer.Option(True, "--cue/--no-cue", help="Modality cues before inputs "
                                 "(--no-cue is the paper's no-prefix ablation)."),
    llm: str = typer.Option(None, "--llm", help="LLM (default: the projectors' own)."),
    gguf_file: str = typer.Option(None, "--gguf-file", help="GGUF file inside --llm."),
    seed: int = typer.Option(0, "--seed", help="Mini-DisCRn and bootstrap seed."),
) -> None:
    """Compose projectors trained apart and ask which of two inputs answers a question."""
    from xalign.data.skips import SkipReport
    from xalign.eval import discrn as run
    from xalign.eval.discrn.media import parse_assignments
    from xalign.eval.discrn.report import print_tables, write_outputs
    from xalign.eval.discrn.run import ANSWER_MODES, AS_TEXT
    from xalign.eval.predictions import write_jsonl

    if answer_mode not in ANSWER_MODES:  # before any model loads
        raise XalignError(f"--answer-mode must be one of {', '.join(ANSWER_MODES)}, "
                          f"got {answer_mode!r}")
    pair_modalities = _modalities(modalities)
    skips = SkipReport()
    if predictions is not None:
        if data is None:
            raise XalignError("--predictions needs --data: the records the predictions answer")
        # scored against the records as written: balancing only reorders what xalign answers
        report, scored = run.score_predictions(data, predictions, pair_modalities, seed=seed)
        examples = run.prediction_set(data, predictions, pair_modalities)[0]
    else:
        from xalign.eval.loading import load_model

        if data is not None:  # the records are read and checked before any model loads
            examples = run.load_data(data, parse_assignments(media_root or [], "--media-root"),
                                     parse_assignments(media_pattern or [], "--media-pattern"),
                                     pair_modalities, balanced=not no_balance, skips=skips)
        model, encoders = load_model(projector or [], llm, gguf_file, use_cue)
        joint_examples = None
        if data is None:
            from xalign.eval.discrn.synth import synthetic_discrn

            names = set(model.projectors)
            wanted = _pairs(pairs) or _default_pairs(names)
            examples = synthetic_discrn(wanted, per_pair, seed)
            if joint:
                joint_examples = _joint_examples(names, per_pair, seed)
        overrides = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
        systems = ("xalign", "text-only", "caption") if baselines else ("xalign",)
        systems += tuple(f"{m}{AS_TEXT}" for m in _as_text(as_text, model.projectors))
        report, scored = run.evaluate(model, examples, encoders, systems=systems,
                                      batch_size=batch_size, preset=preset, frames=frames,
                                      seed=seed, skips=skips, joint=joint_examples,
                                      answer_mode=answer_mode,
                                      probe=probe and data is None, **overrides)
        report["settings"]["use_cue"] = use_cue
        report["source"] = str(data) if data else "mini-discrn"
    if out is not None:
        write_outputs(report, scored, out)
        write_jsonl(out / "examples.jsonl", (ex.to_record() for ex in _unique(examples)))
        skips.write_jsonl(out / "skipped.jsonl")
    if as_json:
        typer.echo(json.dumps(report, default=str))
    else:
        print_tables(report)
        if out is not None:
            typer.echo(f"wrote {out}/report.json, predictions.jsonl, discrn.png")


def _as_text(names: list[str] | None, loaded: Collection[str]) -> list[str]:
    """The ``--as-text`` modalities, each one of the loaded projectors'."""
    unknown = [m for m in names or [] if m not in loaded]
    if unknown:
        raise XalignError(f"--as-text {', '.join(unknown)}: no projector of that modality is "
                          f"loaded (loaded: {', '.join(sorted(loaded))})")
    return list(names or [])


def _default_pairs(names: set[str]) -> list[tuple[str, str]]:
    from xalign.eval.discrn.synth import default_pairs

    pairs = default_pairs(names)
    if not pairs:
        raise XalignError("the mini-DisCRn needs projectors of two modalities; pass --projector "
                          "twice")
    return pairs


def _joint_examples(names: set[str], n: int, seed: int):
    from xalign.eval.joint import joint_pair, synthetic_joint

    pair = joint_pair(sorted(names))
    return synthetic_joint(pair, n, seed) if pair else None


def _unique(examples):
    seen = set()
    for ex in examples:
        if ex.id not in seen:
            seen.add(ex.id)
            yield ex


def register(app: typer.Typer) -> None:
    app.command("discrn")(discrn)
