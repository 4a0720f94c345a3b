"""``xalign llm``: the embedded LLM's text-only comparison stage (rebuild or check it)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="The embedded LLM's text-only stage.")


@app.command("text-stage")
def text_stage(
    out: Path = typer.Option(None, help="Where to write the adapters (default: the shipped "
                                        "file inside the package)."),
    steps: int = typer.Option(None, help="Training steps (default: the shipped stage's)."),
    threads: int = typer.Option(1, help="Torch threads; the shipped file was made with "
                                        "--threads 2: the same count on the same machine "
                                        "reproduces it bit for bit."),
    modality: list[str] = typer.Option(None, "--modality", "-m", help="Read the captions of "
                                       "these modalities (default: every installed one)."),
    slot_shuffle: bool = typer.Option(None, "--slot-shuffle/--no-slot-shuffle",
                                      help="Shuffle each slot's words while training "
                                           "(default: the shipped stage's)."),
    slot_noise: float = typer.Option(None, help="Noise on each slot's word embeddings, in "
                                                "units of their RMS (default: the shipped "
                                                "stage's)."),
) -> None:
    """Train the LoRA comparison stage of SmolLM2 on text only and write the adapters."""
    import dataclasses

    import torch

    from xalign.llm import load_llm
    from xalign.llm.text_stage import SHIPPED, StageConfig, measure, train_stage
    from xalign.train.precision import choose_precision

    torch.set_num_threads(threads)
    config = dataclasses.replace(StageConfig(), modalities=tuple(sorted(modality or ())))
    given = {"steps": steps, "slot_shuffle": slot_shuffle, "slot_noise": slot_noise}
    config = dataclasses.replace(config, **{k: v for k, v in given.items() if v is not None})
    precision = choose_precision("auto")
    typer.echo(precision.describe())
    llm = load_llm("smollm2")
    path = train_stage(llm, config, out or SHIPPED, log=typer.echo,
                       metrics_of=lambda loaded: measure(loaded, modalities=config.modalities),
                       autocast=lambda: torch.autocast(
                           "cpu", dtype=torch.bfloat16, enabled=precision.autocast_cpu_bf16))
    typer.echo(f"wrote {path} (LLM state {llm.llm_id})")
