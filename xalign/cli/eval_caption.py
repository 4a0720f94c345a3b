"""``xalign eval caption``: captioning scored by CIDEr-D."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def caption(
    projector: list[Path] = typer.Option(..., "--projector", "-p", help="Projector folder."),
    data: Path = typer.Option(None, "--data", help="JSONL manifest of caption lines; lines "
                              "with the same media pool their references (default: the "
                              "synthetic test split)."),
    modality: str = typer.Option(None, "--modality", help="Synthetic modality (default: the "
                                 "projector's)."),
    size: int = typer.Option(40, "--size", min=1, help="Synthetic test items."),
    limit: int = typer.Option(None, "--limit", min=1, help="Evaluate at most N items."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    preset: str = typer.Option("caption", "--preset", help="Decoding preset (DESIGN §3)."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1),
    out: Path = typer.Option(None, "--out", help="Folder for report.json, predictions.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    llm: str = typer.Option(None, "--llm", help="LLM (default: the projector's own)."),
    gguf_file: str = typer.Option(None, "--gguf-file"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate one caption per media item and score it with CIDEr-D."""
    from xalign.eval.loading import write_outputs
    from xalign.eval.single import print_report, setup
    from xalign.eval.tasks import evaluate_captioning

    model, dataset, skips = setup("caption", projector, data, modality, size, seed, llm,
                                  gguf_file)
    overrides = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    if max_new_tokens:
        overrides["min_new_tokens"] = min(max_new_tokens, 10)
    report, rows = evaluate_captioning(model, dataset, batch_size, preset, limit, skips,
                                       **overrides)
    report["skipped"] = skips.count
    if out is not None:
        write_outputs(out, report, rows, skips)
    if as_json:
        typer.echo(json.dumps(report))
        return
    print_report("Captioning", [("media items", str(report["n"])),
                                ("references", str(report["references"])),
                                ("CIDEr-D", f"{report['cider']:.3f}"),
                                ("CIDEr-D x100", f"{report['cider_x100']:.1f}")])


def register(app: typer.Typer) -> None:
    app.command("caption")(caption)
