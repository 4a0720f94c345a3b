"""``xalign eval qa``: short-answer QA, exact match after normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def qa(
    projector: list[Path] = typer.Option(..., "--projector", "-p", help="Projector folder."),
    data: Path = typer.Option(None, "--data", help="JSONL manifest of QA lines, e.g. from "
                              "`xalign data qa` (default: the synthetic test split)."),
    modality: str = typer.Option(None, "--modality", help="Synthetic modality (default: the "
                                 "projector's)."),
    size: int = typer.Option(60, "--size", min=1, help="Synthetic test items."),
    limit: int = typer.Option(None, "--limit", min=1, help="Evaluate at most N items."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    preset: str = typer.Option("short_answer", "--preset", help="Decoding preset."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1),
    out: Path = typer.Option(None, "--out", help="Folder for report.json, predictions.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    llm: str = typer.Option(None, "--llm", help="LLM (default: the projector's own)."),
    gguf_file: str = typer.Option(None, "--gguf-file"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate short answers; exact match after normalising case, articles, punctuation."""
    from xalign.eval.loading import write_outputs
    from xalign.eval.single import print_report, setup
    from xalign.eval.tasks import evaluate_qa

    model, dataset, skips = setup("qa", projector, data, modality, size, seed, llm, gguf_file)
    overrides = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    report, rows = evaluate_qa(model, dataset, batch_size, preset, limit, skips, seed,
                               **overrides)
    report["skipped"] = skips.count
    if out is not None:
        write_outputs(out, report, rows, skips)
    if as_json:
        typer.echo(json.dumps(report))
        return
    lines = [("questions", str(report["n"])), ("exact match", f"{report['exact_match']:.1%}")]
    lines += [(f"  {t}", f"{s['accuracy']:.1%} (n={s['n']})")
              for t, s in report["per_task"].items()]
    print_report("Short-answer QA", lines)


def register(app: typer.Typer) -> None:
    app.command("qa")(qa)
