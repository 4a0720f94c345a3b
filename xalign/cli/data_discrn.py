"""``xalign data discrn``: build a DisCRn set from captions of two modalities (DESIGN §4)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xalign.errors import XalignError


def load_collections(captions: Path | None, synthetic: int, names: list[str], seed: int,
                     ) -> dict[str, list]:
    """Captioned items per modality: from a JSONL file or straight from the plugins."""
    from xalign.datagen.captions import read_captions, synthetic_captions

    if captions is not None:
        return read_captions(captions, names)
    if synthetic <= 0:
        raise XalignError("give --captions FILE (e.g. a world's test.items.jsonl from "
                          "`xalign data synth`) or --synthetic N")
    return {name: synthetic_captions(name, synthetic, seed) for name in names}


def parse_modalities(value: str, count: int | None = None) -> list[str]:
    names = [m.strip() for m in value.split(",") if m.strip()]
    if count is not None and len(names) != count:
        raise XalignError(f"--modalities expects {count} comma-separated names, got {value!r}")
    return names


def stage_table(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("stage")
    table.add_column("kept", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    Console().print(table)


def discrn(
    out: Path = typer.Option(..., "--out", help="Folder for discrn.json and stages.json."),
    modalities: str = typer.Option("audio,video", "--modalities",
                                   help="The two modalities: first,second."),
    captions: Path = typer.Option(None, "--captions", help="JSONL of {id, modality, caption, "
                                  "path?}; a world's <split>.items.jsonl works."),
    synthetic: int = typer.Option(0, "--synthetic", min=0,
                                  help="Use N synthetic captions per modality instead."),
    llm: str = typer.Option("smollm2", "--llm", help="Hub id, local path or 'smollm2'."),
    gguf_file: str = typer.Option(None, "--gguf-file", help="GGUF file inside --llm."),
    candidates: int = typer.Option(500, "--candidates", min=1, help="Random candidates/entity."),
    top_k: int = typer.Option(10, "--top-k", min=1, help="Pair among the k most similar."),
    max_entities: int = typer.Option(None, "--max-entities", min=1,
                                     help="Use at most N entities of the first modality."),
    max_new_tokens: int = typer.Option(96, "--max-new-tokens", min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json", help="Print the stage counts as JSON."),
) -> None:
    """Build a DisCRn set (DESIGN §4): properties, pairing, triplets, round-trip filter."""
    from xalign.datagen.discrn_builder import DiscrnBuildConfig, build_discrn
    from xalign.datagen.embedding import load_minilm
    from xalign.datagen.textgen import load_generator

    names = parse_modalities(modalities, 2)
    collections = load_collections(captions, synthetic, names, seed)
    config = DiscrnBuildConfig(candidates=candidates, top_k=top_k, max_entities=max_entities,
                               max_new_tokens=max_new_tokens, seed=seed)
    records, counts = build_discrn(collections[names[0]], collections[names[1]],
                                   load_generator(llm, gguf_file, batch_size), load_minilm(),
                                   config)
    out.mkdir(parents=True, exist_ok=True)
    (out / "discrn.json").write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    stages = {"llm": llm, **counts.to_dict()}
    (out / "stages.json").write_text(json.dumps(stages, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(stages))
        return
    rows = [(f"captions ({m})", n) for m, n in counts.captions.items()]
    rows += [(f"with properties ({m})", n) for m, n in counts.with_properties.items()]
    rows += [("pairs", counts.pairs), ("triplets generated", counts.triplets_generated),
             ("triplets well-formed", counts.triplets_wellformed),
             ("round-trip consistent", counts.round_trip_kept)]
    stage_table(f"DisCRn build ({names[0]}–{names[1]})", rows)
    typer.echo(f"wrote {len(records)} records to {out / 'discrn.json'}")


def register(app: typer.Typer) -> None:
    app.command("discrn")(discrn)
