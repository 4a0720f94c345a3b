"""``xalign data synth``: write the offline synthetic world (media + JSONL manifests) to disk."""

from __future__ import annotations

from pathlib import Path

import typer


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the world into."),
    modalities: str = typer.Option(
        "", "--modalities", help="Comma-separated modalities (default: every installed one)."),
    train: int = typer.Option(200, "--train", min=0, help="Media items per modality (train)."),
    val: int = typer.Option(50, "--val", min=0, help="Media items per modality (val)."),
    test: int = typer.Option(50, "--test", min=0, help="Media items per modality (test)."),
    seed: int = typer.Option(0, "--seed", min=0, help="World seed; splits never share samples."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing world."),
) -> None:
    """Synthesise media with each plugin's generator and write train/val/test manifests."""
    from xalign.data.world import write_world
    from xalign.registry import get_registry

    names = [m.strip() for m in modalities.split(",") if m.strip()] or get_registry().names()
    summary = write_world(out, names, {"train": train, "val": val, "test": test}, seed=seed,
                          overwrite=overwrite)
    for name, splits in summary.media.items():
        counts = ", ".join(f"{s} {n}" for s, n in splits.items())
        typer.echo(f"{name}: {counts}")
    typer.echo("examples: " + ", ".join(f"{s} {n}" for s, n in summary.examples.items()))
    typer.echo(f"wrote {out}/{{train,val,test}}.jsonl (see docs/data.md)")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
