"""``xalign data check MANIFEST``: data-quality report (duplicates, bad files, balance)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # xalign.data imports torch: only inside the command (fast `xalign --help`)
    from xalign.data.cache import FeatureCache
    from xalign.data.quality import QualityReport


def check(
    manifest: Path = typer.Argument(..., help="JSONL manifest (format: docs/data.md)."),
    root: Path = typer.Option(None, "--root", help="Folder relative media paths resolve "
                              "against (default: the manifest's folder)."),
    near: float = typer.Option(None, "--near", min=-1.0, max=1.0,
                               help="Cosine of pooled frozen-encoder features at or above "
                               "which two files are near-duplicates (default 0.985)."),
    near_relative: float = typer.Option(
        None, "--near-relative", min=0.0, help="A near-duplicate pair must also be closer "
        "than this fraction of the median nearest-neighbour distance of the modality's files "
        "(default 0.2; 0: the cosine threshold alone)."),
    no_near: bool = typer.Option(False, "--no-near", help="Skip near-duplicate media (no "
                                 "encoder; files are still loaded)."),
    instruction_threshold: float = typer.Option(
        None, "--instruction-threshold", min=0.0, max=100.0,
        help="rapidfuzz ratio (0-100) at or above which two instructions about the same "
        "media are near-duplicates (default 90)."),
    cache: Path = typer.Option(None, "--cache", help="Feature cache folder (default: the "
                               "one training uses, so either run reuses the other's features)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    png: Path = typer.Option(None, "--png", help="Also draw the report into this PNG."),
    fix: Path = typer.Option(None, "--fix", help="Write a cleaned manifest here (drops bad "
                             "files' lines and exact duplicates; the original stays as is)."),
    fix_near: bool = typer.Option(False, "--fix-near", help="With --fix, also drop "
                                  "near-duplicate media and near-duplicate instructions."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Find duplicate and near-duplicate media and instructions, missing or corrupt files,
    and report answer lengths and modality / task / template / attribute balance."""
    from xalign.data.quality import (
        INSTRUCTION_THRESHOLD,
        NEAR_RELATIVE,
        NEAR_THRESHOLD,
        check_manifest,
        write_fixed,
    )

    near = NEAR_THRESHOLD if near is None else near
    relative = NEAR_RELATIVE if near_relative is None else (near_relative or None)
    report = check_manifest(manifest, root=root, near=None if no_near else near,
                            near_relative=relative,
                            instruction_threshold=INSTRUCTION_THRESHOLD
                            if instruction_threshold is None else instruction_threshold,
                            cache=None if no_near or no_cache else _cache(cache))
    if png is not None:
        from xalign.data.quality.plot import write_png

        write_png(report, png)
    summary = write_fixed(report, fix, root=root, near=fix_near) if fix is not None else None
    console = Console(stderr=as_json)  # with --json, stdout holds the JSON alone
    if as_json:
        typer.echo(report.to_json())
    else:
        _print(console, report)
    if png is not None:
        console.print(f"wrote {png}")
    if summary is not None:
        dropped = ", ".join(f"{len(v)} {k}" for k, v in summary.dropped.items()) or "none"
        console.print(f"wrote {summary.out}: kept {summary.kept} lines, dropped {dropped}")


def _cache(directory: Path | None) -> FeatureCache:
    from xalign.data.cache import FeatureCache

    if directory is None:
        from xalign.llm import cache_root

        directory = cache_root() / "features"
    # the settings training uses for a recipe's default encoder, so the entries are shared
    return FeatureCache(directory, settings={"encoder_source": None})


def _print(console: Console, report: QualityReport) -> None:
    findings = Table(title=f"{report.manifest}: {report.lines} lines, "
                           f"{report.media_files} media files")
    for column in ("finding", "count", "examples"):
        findings.add_column(column, overflow="fold")
    near = "near-duplicate media (skipped)"
    if report.near_threshold is not None:
        near = f"near-duplicate media (cos >= {report.near_threshold}"
        if report.near_relative is not None:
            near += f", < {report.near_relative} x median distance"
        near += ")"
    rows = [
        ("missing files", report.missing, lambda g: f"{g.path}"),
        ("corrupt files", report.corrupt, lambda g: f"{g.path}: {g.reason}"),
        ("exact duplicate media", report.exact_duplicates, lambda g: " = ".join(g.paths)),
        (near, report.near_duplicates, lambda g: " ~ ".join(g.paths) + f" ({g.similarity})"),
        ("duplicate instructions", report.duplicate_instructions,
         lambda d: f"{d.line} repeats {d.duplicate_of}"
         + ("" if d.exact else f" ({d.similarity:.0f})")
         + ("" if d.same_answer else ", answered differently")),
        ("empty answers", report.answers.empty, str),
        ("answers not among candidates", report.answers.not_in_candidates, str),
    ]
    for name, found, show in rows:
        shown = "\n".join(show(x) for x in found[:3]) + ("\n…" if len(found) > 3 else "")
        findings.add_row(name, str(len(found)), shown)
    console.print(findings)
    answers = report.answers
    p = answers.percentiles
    console.print(f"answer length (words): mean {answers.mean}, min {p['p0']:g}, median "
                  f"{p['p50']:g}, p90 {p['p90']:g}, max {p['p100']:g}")
    spread = Table(title="balance (1.00 = uniform)")
    for column in ("over", "distinct", "balance", "max/min", "largest"):
        spread.add_column(column)
    dists = [("modalities", report.modalities), ("tasks", report.tasks),
             ("instructions", report.instructions),
             *((f"attribute {k}", v) for k, v in report.attributes.items())]
    for name, dist in dists:
        largest = ", ".join(f"{k} {v}" for k, v in list(dist.counts.items())[:3])
        spread.add_row(name, str(dist.distinct), f"{dist.balance:.2f}",
                       f"{dist.max_min_ratio:.1f}", largest)
    console.print(spread)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
