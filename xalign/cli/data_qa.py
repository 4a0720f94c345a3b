"""``xalign data qa``: question–answer pairs from captions (DESIGN §5)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xalign.cli.data_discrn import load_collections, parse_modalities, stage_table


def qa(
    out: Path = typer.Option(..., "--out", help="Folder for qa.jsonl and stages.json."),
    modalities: str = typer.Option("", "--modalities",
                                   help="Comma-separated modalities (default: all in --captions)."),
    captions: Path = typer.Option(None, "--captions", help="JSONL of {id, modality, caption, "
                                  "path?}; a world's <split>.items.jsonl works."),
    synthetic: int = typer.Option(0, "--synthetic", min=0,
                                  help="Use N synthetic captions per modality instead."),
    llm: str = typer.Option("smollm2", "--llm", help="Hub id, local path or 'smollm2'."),
    gguf_file: str = typer.Option(None, "--gguf-file", help="GGUF file inside --llm."),
    min_words: int = typer.Option(10, "--min-words", min=1,
                                  help="Only captions of at least this many words (paper: 10)."),
    answers_per_caption: int = typer.Option(3, "--answers-per-caption", min=1),
    max_new_tokens: int = typer.Option(48, "--max-new-tokens", min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json", help="Print the stage counts as JSON."),
) -> None:
    """QA pairs from captions (DESIGN §5): answers, questions, round-trip check."""
    from xalign.datagen.qa_builder import QABuildConfig, build_qa
    from xalign.datagen.textgen import load_generator
    from xalign.registry import get_registry

    names = parse_modalities(modalities) if modalities else None
    if names is None and captions is None:
        names = get_registry().names()
    collections = load_collections(captions, synthetic, names or [], seed)
    items = [it for group in collections.values() for it in group]
    config = QABuildConfig(min_words=min_words, answers_per_caption=answers_per_caption,
                           max_new_tokens=max_new_tokens)
    lines, counts = build_qa(items, load_generator(llm, gguf_file, batch_size), config)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "qa.jsonl").open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    stages = {"llm": llm, **counts.to_dict()}
    (out / "stages.json").write_text(json.dumps(stages, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(stages))
        return
    stage_table("QA from captions", [
        ("captions", counts.captions), (f">= {min_words} words", counts.long_enough),
        ("colour-free (3D rewritten)", counts.colour_free), ("candidate answers", counts.answers),
        ("questions", counts.questions), ("round-trip consistent", counts.round_trip_kept)])
    typer.echo(f"wrote {len(lines)} QA pairs to {out / 'qa.jsonl'}")


def register(app: typer.Typer) -> None:
    app.command("qa")(qa)
