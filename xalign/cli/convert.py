"""``xalign convert …``: import foreign checkpoints as xalign projectors."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Import foreign checkpoints as xalign projectors.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Import foreign checkpoints as xalign projectors."""  # keeps `lavis` a sub-command


@app.command("lavis")
def lavis(
    checkpoint: Path = typer.Argument(..., help="X-InstructBLIP LAVIS checkpoint (.pth)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one projector per modality."),
    modality: list[str] | None = typer.Option(
        None, "--modality", "-m",
        help="Convert only these modalities (LAVIS or xalign names: image, video, audio, pc/3d)."),
    llm_dim: int | None = typer.Option(None, "--llm-dim",
                                       help="Check the LLM width (4096 for 7b)."),
    llm_id: str | None = typer.Option(None, "--llm-id",
                               help="LLM the projectors were trained for (default: Vicuna v1.1 "
                                    "of the checkpoint's width)."),
    encoder_id: list[str] | None = typer.Option(
        None, "--encoder-id", help="MODALITY=ID, the encoder to record for a modality."),
    instruction_tokenizer: str = typer.Option(
        "bert-base-uncased", "--instruction-tokenizer",
        help="Tokenizer of the Q-Former's instruction input (LAVIS: bert-base-uncased)."),
) -> None:
    """Convert an X-InstructBLIP checkpoint into xalign Q-Former projectors."""
    from xalign.convert import convert_lavis

    encoders = {}
    for item in encoder_id or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise typer.BadParameter(f"expected MODALITY=ID, got {item!r}",
                                     param_hint="--encoder-id")
        encoders[name] = value
    results = convert_lavis(checkpoint, out, modalities=modality or None, llm_dim=llm_dim,
                            llm_id=llm_id, encoder_ids=encoders,
                            instruction_tokenizer=instruction_tokenizer)
    table = Table("LAVIS", "modality", "directory", "K", "feature dim", "LLM dim", "preset",
                  "parameters")
    for r in results:
        table.add_row(r.lavis_modality, r.modality, str(r.directory), str(r.config.num_tokens),
                      str(r.config.feature_dim), str(r.config.llm_dim), r.config.preset,
                      f"{r.num_parameters:,}")
    Console().print(table)
