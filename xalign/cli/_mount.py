"""Helpers to build a command group from several small modules."""

from __future__ import annotations

import importlib

import typer


def group(help_text: str, modules: list[str]) -> typer.Typer:
    """A Typer group whose commands come from ``modules``, each exposing ``register(app)``.

    Modules absent from this build are skipped, so a group grows one file at a time.
    """
    app = typer.Typer(help=help_text, no_args_is_help=True)
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)
    return app
