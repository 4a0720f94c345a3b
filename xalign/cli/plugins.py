"""``xalign plugins``: list plugins, their modalities, encoders and projector kinds;
``xalign plugins new`` scaffolds one; ``xalign plugins check`` runs the contract on one.

Listing imports no torch and no transformers: plugins register their heavy parts by
reference (:func:`xalign.lazy`), so this reads entry points and light metadata only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer

from xalign.catalog import load_catalog
from xalign.registry import Registry, get_registry

app = typer.Typer(help="List plugins, their encoders and projector kinds; scaffold or check one.",
                  invoke_without_command=True)


def listing(registry: Registry | None = None) -> dict[str, Any]:
    """What ``xalign plugins --json`` prints: ``modalities``, one row per modality (installed,
    then catalogued but not installed; a broken plugin is a row under its own name) with its
    encoders, and ``projectors``, the installed projector kinds."""
    registry = registry or get_registry()
    catalog = load_catalog()
    rows: list[dict[str, Any]] = []
    covered: set[str] = set()
    for info in sorted(registry.plugins.values(), key=lambda p: p.name):
        for name in info.modalities or ([] if info.encoders or info.projectors else [info.name]):
            modality = registry.modalities.get(name)
            rows.append({
                "name": name, "plugin": info.name, "distribution": info.distribution,
                "version": info.version, "status": info.status, "error": info.error,
                "cue": modality.cue if modality else None,
                "default_encoder": modality.encoder if modality else None,
                "encoders": _encoders(registry, name),
            })
            covered.add(name)
            covered.update(e.name for e in catalog.values()
                           if info.distribution and e.distribution == info.distribution)
    for name in sorted(set(registry.encoders) - covered - set(catalog)):  # encoders, no modality
        rows.append({"name": name, "plugin": None, "distribution": None, "version": None,
                     "status": "no plugin registers this modality", "error": None, "cue": None,
                     "default_encoder": None, "encoders": _encoders(registry, name)})
    for name, entry in sorted(catalog.items()):
        if name not in covered:
            rows.append({
                "name": name, "plugin": None, "distribution": entry.distribution,
                "version": None, "status": "not installed",
                "error": f"pip install {entry.distribution}", "cue": entry.cue,
                "default_encoder": None, "encoders": [{"id": e} for e in entry.encoders],
            })
    projectors = [{"kind": k.kind, "plugin": k.plugin}
                  for k in sorted(registry.projectors.values(), key=lambda k: k.kind)]
    return {"modalities": rows, "projectors": projectors}


def _encoders(registry: Registry, modality: str) -> list[dict[str, Any]]:
    return [{"id": e.id, "family": e.family, "plugin": registry.owner(e.key),
             "kind": "stand-in" if e.stand_in else "pretrained",
             "feature_dim": e.feature_dim, "weights": e.weights}
            for e in registry.encoders_for(modality)]


@app.callback()
def plugins(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List plugins (ok or broken), each modality's encoders, and the projector kinds."""
    if ctx.invoked_subcommand is not None:
        return
    data = listing()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_tables(data)


def _print_tables(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {"ok": "green", "broken": "red", "not installed": "yellow"}
    table = Table(title="xalign modalities and their encoders (* default)")
    for column in ("modality", "plugin", "cue", "encoder", "family", "kind", "registered by",
                   "status"):
        table.add_column(column)
    for row in data["modalities"]:
        status = f"[{colours.get(row['status'], 'red')}]{row['status']}[/]"
        if row["error"]:
            status += f"\n{row['error']}"
        plugin = f"{row['distribution'] or '-'} {row['version'] or ''}".strip()
        encoders = row["encoders"] or [{"id": "-"}]
        for i, enc in enumerate(encoders):
            first = i == 0
            star = "*" if enc["id"] == row["default_encoder"] else ""
            table.add_row(row["name"] if first else "", plugin if first else "",
                          repr(row["cue"]) if first and row["cue"] else "", enc["id"] + star,
                          enc.get("family", ""), enc.get("kind", ""), enc.get("plugin") or "",
                          status if first else "")
    console = Console(width=max(shutil.get_terminal_size().columns, 140))
    console.print(table)
    kinds = ", ".join(f"{p['kind']} ({p['plugin']})" for p in data["projectors"])
    console.print(f"projector kinds: {kinds}")


@app.command("new")
def new(
    name: str = typer.Argument(..., help="Modality name, e.g. 'eeg' (lower case, digits, '_')."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to create the package."),
) -> None:
    """Scaffold a third-party modality plugin package that `pip install -e` picks up."""
    from xalign.scaffold import scaffold_plugin

    root = scaffold_plugin(name, directory)
    typer.echo(f"created {root}\nnext: pip install -e '{root}[dev]' && xalign plugins check "
               f"{name}")


@app.command("check")
def check(name: str = typer.Argument(..., help="The plugin's entry-point name, e.g. 'eeg'.")
          ) -> None:
    """Run the plugin contract on an installed plugin and name what is wrong."""
    from xalign.plugin_check import check_plugin

    report = check_plugin(name)
    for line in report.passed:
        typer.echo(f"ok       {line}")
    for line in report.skipped:
        typer.echo(f"skipped  {line}")
    for line in report.problems:
        typer.echo(f"PROBLEM  {line}")
    if not report.ok:
        raise typer.Exit(1)
