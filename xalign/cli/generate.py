"""``xalign generate``: answer a prompt about media files with trained (or untrained) projectors.

    xalign generate --projector runs/audio/projector --projector runs/image/projector \\
        --audio a.wav --image b.png --prompt "Which one is louder?"

Media flags are the installed modalities' names (``--image``, ``--video``, ``--audio``,
``--3d``…), repeatable, kept in command-line order; ``--media MODALITY=PATH`` works
for any modality. The flags are read from the raw arguments so that their
interleaving survives (click would group repeated options per flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from xalign.errors import XalignError

generate = typer.Typer(add_completion=False)


def parse_media_args(args: list[str]) -> list[tuple[str, Path]]:
    """``["--audio", "a.wav", "--media", "image=b.png", "--3d=c.ply"]`` -> ordered pairs."""
    media: list[tuple[str, Path]] = []
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            raise XalignError(f"unexpected argument {token!r}; media go after a flag such as "
                              "--image PATH or --media MODALITY=PATH")
        flag, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise XalignError(f"--{flag} needs a value")
            value, i = args[i + 1], i + 1
        i += 1
        if flag == "media":
            modality, sep, path = value.partition("=")
            if not sep or not modality or not path:
                raise XalignError(f"--media expects MODALITY=PATH, got {value!r}")
            media.append((modality, Path(path)))
        else:
            media.append((flag, Path(value)))
    return media


def untrained_projector(modality_name: str, llm: Any, *, seed: int = 0) -> Any:
    """A freshly initialised Q-Former projector for the modality's default encoder (smoke runs)."""
    from xalign.encoders import seeded
    from xalign.projectors import ProjectorConfig, build_projector
    from xalign.registry import get_registry

    registry = get_registry()
    modality = registry.get(modality_name)
    encoder = registry.encoder(modality.name)
    config = ProjectorConfig(
        kind="qformer", modality=modality.name, feature_dim=encoder.feature_dim,
        llm_dim=llm.hidden_size, llm_id=llm.llm_id, encoder_id=encoder.id,
        cue=modality.cue, frames=modality.frames, instruction_vocab_size=len(llm.tokenizer),
    )
    with seeded(seed):
        return build_projector(config).eval()


def run_generate(
    media: list[tuple[str, Path]],
    prompt: str,
    *,
    projector_dirs: list[Path] | None = None,
    untrained: list[str] | None = None,
    llm: str | None = None,
    gguf_file: str | None = None,
    preset: str = "greedy",
    use_cue: bool = True,
    device: str = "cpu",
    seed: int = 0,
    **overrides: Any,
) -> str:
    """Load the LLM and projectors, featurize ``media`` in order, and generate one answer."""
    from xalign.generation import get_preset
    from xalign.llm import load_llm
    from xalign.model import Example
    from xalign.pipeline import build_pipeline, check_inputs
    from xalign.projectors import load_projector, read_config, trained_llm

    get_preset(preset)  # fail on a typo before loading anything
    # a missing or mistyped file fails before the slow loads
    modalities = [m.name for m in check_inputs(media)]
    covered = {read_config(d).modality for d in projector_dirs or []} | set(untrained or [])
    for name in modalities:
        if name not in covered:
            raise XalignError(f"no projector for modality {name!r}: pass --projector DIR (or "
                              "--untrained MODALITY for a smoke run)")
    if llm is None:  # the LLM state the projectors were trained on
        llm = trained_llm(projector_dirs or [])
    loaded = load_llm(llm, gguf_file=gguf_file)
    projectors: dict[str, Any] = {}
    for directory in projector_dirs or []:
        projector = load_projector(directory, llm_dim=loaded.hidden_size, llm_id=loaded.llm_id)
        projectors[projector.config.modality] = projector
    for name in untrained or []:
        projectors[name] = untrained_projector(name, loaded, seed=seed)
    needed = {name: projectors[name] for name in dict.fromkeys(modalities)}
    pipeline = build_pipeline(needed, loaded, device=device, use_cue=use_cue)
    pipeline.model.to(device)
    items = [pipeline.features(name, path) for name, (_, path) in zip(modalities, media,
                                                                        strict=True)]
    model = pipeline.model
    return model.generate([Example(items, prompt)], preset=preset, **overrides)[0]


@generate.command(
    "generate",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Media: --image PATH, --video PATH, --audio PATH, --3d PATH (any installed "
           "modality), or --media MODALITY=PATH; repeatable, order kept.",
)
def generate_command(
    ctx: typer.Context,
    prompt: str = typer.Option(..., "--prompt", help="The instruction / question."),
    projector: list[Path] = typer.Option(
        [], "--projector", "-p", help="A saved projector directory (repeatable)."),
    untrained: list[str] = typer.Option(
        [], "--untrained", help="Use a fresh, untrained projector for this modality."),
    llm: str | None = typer.Option(
        None, "--llm", help="smollm2 (embedded), a hub id or a path (default: the LLM the "
        "projectors were trained on; smollm2 for --untrained alone)."),
    gguf_file: str | None = typer.Option(None, "--gguf-file", help="GGUF file inside --llm."),
    preset: str = typer.Option(
        "greedy", "--preset",
        help="greedy, short_answer, caption, long_caption or variable_caption."),
    no_cue: bool = typer.Option(False, "--no-cue", help="Drop the modality cue text."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", min=1),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1…"),
    seed: int = typer.Option(0, "--seed", help="Seed of --untrained projectors."),
) -> None:
    """Generate text about media files with projectors on a frozen LLM."""
    media = parse_media_args(list(ctx.args))
    if not media:
        raise XalignError("no media given; add e.g. --image photo.png or --media audio=a.wav")
    overrides = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
    text = run_generate(media, prompt, projector_dirs=list(projector), untrained=list(untrained),
                        llm=llm, gguf_file=gguf_file, preset=preset, use_cue=not no_cue,
                        device=device, seed=seed, **overrides)
    typer.echo(text)
