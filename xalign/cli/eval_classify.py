"""``xalign eval classify``: closed-vocabulary classification (ranking and open generation)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xalign.errors import XalignError


def classify(
    projector: list[Path] = typer.Option(..., "--projector", "-p", help="Projector folder."),
    data: Path = typer.Option(None, "--data", help="JSONL manifest with classify:<attribute> "
                              "lines and candidates (default: the synthetic test split)."),
    modality: str = typer.Option(None, "--modality", help="Synthetic modality (default: the "
                                 "projector's)."),
    size: int = typer.Option(60, "--size", min=1, help="Synthetic test items."),
    mode: str = typer.Option("both", "--mode", help="rank, generate or both."),
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
    """Rank the candidate labels by LLM loss, and/or generate and match the text to a label."""
    from xalign.eval.loading import write_outputs
    from xalign.eval.single import print_report, setup
    from xalign.eval.tasks import evaluate_classification

    modes = {"both": ("rank", "generate"), "rank": ("rank",), "generate": ("generate",)}
    if mode not in modes:
        raise XalignError(f"--mode must be rank, generate or both, got {mode!r}")
    model, dataset, skips = setup("classify", projector, data, modality, size, seed, llm,
                                  gguf_file)
    overrides = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    report, rows = evaluate_classification(model, dataset, modes[mode], batch_size, preset,
                                           limit, skips, seed, **overrides)
    report["skipped"] = skips.count
    if out is not None:
        write_outputs(out, report, rows, skips)
    if as_json:
        typer.echo(json.dumps(report))
        return
    lines = [("items", str(report["n"])), ("chance", f"{report['chance']:.1%}")]
    for m in modes[mode]:
        lines.append((f"{m} accuracy", f"{report[m]['accuracy']:.1%}"))
        lines += [(f"  {m} {a}", f"{s['accuracy']:.1%} (n={s['n']})")
                  for a, s in report[m]["per_attribute"].items()]
    if "generate" in report:
        lines.append(("generate: no single label named", f"{report['generate']['unmatched']:.1%}"))
    print_report("Classification", lines)


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)
