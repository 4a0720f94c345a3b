"""Mounting sub-commands from their own modules, without hiding a module that fails to import.

A sub-command module that raises at import (a missing dependency, a bug) is never skipped
silently: its command stays in ``xalign --help``, marked unavailable, and running it prints
the import error (``--debug`` shows the traceback). The other commands keep working.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from xalign.errors import XalignError

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True,
                 "help_option_names": []}


def unavailable(name: str, module: str, exc: BaseException) -> Any:
    """A command standing in for ``name`` whose module failed to import; it reports why."""
    reason = f"{type(exc).__name__}: {exc}"

    def command(ctx: typer.Context) -> None:  # noqa: ARG001 - takes and ignores any arguments
        raise XalignError(f"`xalign {name}` is unavailable: importing {module} failed "
                          f"({reason})") from exc

    command.__doc__ = f"Unavailable: {module} failed to import ({reason})."
    return command


def load(module: str, attr: str | None = None) -> tuple[Any, BaseException | None]:
    """``(module or its attribute, None)``, or ``(None, the import error)``."""
    try:
        loaded = importlib.import_module(module)
        return (getattr(loaded, attr) if attr else loaded), None
    except Exception as exc:  # any failure: reported by the stand-in command
        return None, exc


def mount(app: typer.Typer, module: str, attr: str, name: str | None) -> None:
    """Add ``module.attr`` (a Typer app, or a command function) to ``app`` under ``name``."""
    target, error = load(module, attr)
    if error is not None:
        shown = name or module.rsplit(".", 1)[-1]
        app.command(shown, context_settings=_PASS_THROUGH)(unavailable(shown, module, error))
    elif isinstance(target, typer.Typer):
        app.add_typer(target, name=name)
    else:
        app.command(name=name)(target)


def group(help_text: str, modules: list[str]) -> typer.Typer:
    """A Typer group whose commands come from ``modules``, each exposing ``register(app)``;
    a module that fails to import becomes an unavailable command named after its suffix
    (``xalign.cli.eval_qa`` -> ``qa``)."""
    app = typer.Typer(help=help_text, no_args_is_help=True)
    for module in modules:
        loaded, error = load(module)
        if error is None:
            loaded.register(app)
            continue
        name = module.rsplit(".", 1)[-1].split("_", 1)[-1]
        app.command(name, context_settings=_PASS_THROUGH)(unavailable(name, module, error))
    return app
