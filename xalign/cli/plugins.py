"""``xalign plugins``: list installed and known plugins; ``xalign plugins new`` scaffolds one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from xalign.catalog import load_catalog
from xalign.registry import get_registry

app = typer.Typer(help="List modality plugins, or scaffold a new one.", invoke_without_command=True)


def plugin_rows() -> list[dict[str, object]]:
    """One row per installed plugin (ok or broken) and per catalogued plugin not installed."""
    registry = get_registry()
    catalog = load_catalog()
    rows: list[dict[str, object]] = []
    covered: set[str] = set()
    for info in sorted(registry.plugins.values(), key=lambda p: p.name):
        names = info.modalities or [info.name]
        for name in names:
            modality = registry.modalities.get(name)
            entry = catalog.get(name)
            rows.append({
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "cue": modality.cue if modality else (entry.cue if entry else None),
                "encoders": list(modality.encoders if modality
                                 else entry.encoders if entry else ()),
                "status": info.status,
                "error": info.error,
            })
            covered.add(name)
            if info.distribution:
                covered.update(e.name for e in catalog.values()
                               if e.distribution == info.distribution)
    for name, entry in sorted(catalog.items()):
        if name not in covered:
            rows.append({
                "name": name, "distribution": entry.distribution, "version": None,
                "cue": entry.cue, "encoders": list(entry.encoders), "status": "not installed",
                "error": f"pip install {entry.distribution}",
            })
    return rows


@app.callback()
def plugins(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List modality plugins: installed (ok or broken) and known but not installed."""
    if ctx.invoked_subcommand is not None:
        return
    rows = plugin_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="xalign modality plugins")
    for column in ("name", "distribution", "version", "cue", "encoders", "status"):
        table.add_column(column)
    colours = {"ok": "green", "broken": "red", "not installed": "yellow"}
    for row in rows:
        status = str(row["status"])
        shown = f"[{colours[status]}]{status}[/]"
        if row["error"]:
            shown += f"\n{row['error']}"
        table.add_row(str(row["name"]), str(row["distribution"] or "-"),
                      str(row["version"] or "-"), repr(row["cue"]),
                      ", ".join(map(str, row["encoders"])), shown)
    Console(width=max(shutil.get_terminal_size().columns, 140)).print(table)


@app.command("new")
def new(
    name: str = typer.Argument(..., help="Modality name, e.g. 'eeg' (lower case, digits, '_')."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to create the package."),
) -> None:
    """Scaffold a third-party modality plugin package that `pip install -e` picks up."""
    from xalign.scaffold import scaffold_plugin

    root = scaffold_plugin(name, directory)
    typer.echo(f"created {root}\nnext: pip install -e {root} && xalign plugins")
