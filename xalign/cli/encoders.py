"""``xalign encoders pretrain``: train a modality's tiny encoder with the generic objective."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import typer

from xalign.errors import XalignError

app = typer.Typer(no_args_is_help=True, help="Frozen encoders: pretrain the built-in tiny ones.")



@app.callback()
def encoders() -> None:
    """Frozen encoders: pretrain the built-in tiny ones."""


# Where a plugin keeps its pretraining spec (an attribute PRETRAIN), relative to its package.
SPEC_MODULES = ("encoders.tiny_pretrained", "tiny_pretrained")


def find_spec(modality: str):  # -> PretrainSpec
    """The ``PRETRAIN`` spec of the installed plugin that provides ``modality``."""
    from xalign.encoders.pretrain import PretrainSpec
    from xalign.registry import get_modality

    package = get_modality(modality).synthesize.__module__.split(".")[0]
    for suffix in SPEC_MODULES:
        try:
            module = importlib.import_module(f"{package}.{suffix}")
        except ModuleNotFoundError as exc:
            if exc.name and f"{package}.{suffix}".startswith(exc.name):
                continue
            raise
        spec = getattr(module, "PRETRAIN", None)
        if isinstance(spec, PretrainSpec):
            return spec
    raise XalignError(f"plugin {package!r} ships no pretrainable tiny encoder (looked for "
                      f"PRETRAIN in {', '.join(f'{package}.{s}' for s in SPEC_MODULES)})")


@app.command()
def pretrain(
    modality: str = typer.Option(..., help="modality whose tiny encoder to train"),
    out: Path = typer.Option(None, help="output folder (default: runs/encoders/<modality>)"),
    steps: int = typer.Option(None, help="optimiser steps (default: the plugin's)"),
    batch_size: int = typer.Option(None, help="items per step (default: the plugin's)"),
) -> None:
    """Contrastive media↔caption pretraining against frozen all-MiniLM-L6-v2, bit-reproducible."""
    from xalign.encoders.pretrain import pretrain as run_pretrain
    from xalign.encoders.pretrain import save_result, with_overrides

    spec = find_spec(modality)
    config = with_overrides(spec.config, steps=steps, batch_size=batch_size)
    out = out or Path("runs") / "encoders" / spec.modality
    typer.echo(f"pretraining {spec.encoder_id}: {config.steps} steps × {config.batch_size} items, "
               f"{config.threads} thread(s) -> {out}")
    every = max(1, config.steps // 20)

    def progress(step: int, loss: float) -> None:
        if step % every == 0 or step == config.steps - 1:
            typer.echo(f"  step {step + 1:5d}/{config.steps}  loss {loss:.4f}")

    result = run_pretrain(spec, config, progress=progress)
    weights = save_result(result, spec, config, out)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    typer.echo(f"wrote {weights} in {result.seconds:.0f} s, sha256 {digest}")
    shipped = spec.weights_dir / weights.name
    if shipped.is_file() and shipped.resolve() != weights.resolve():
        same = hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
        typer.echo(f"shipped weights {shipped}: {'identical' if same else 'DIFFERENT'}")
