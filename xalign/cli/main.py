"""Entry point of the ``xalign`` command: one sub-command module per job."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from xalign.cli._mount import mount
from xalign.errors import XalignError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Connect any modality to a frozen LLM through trained projectors.")
err = Console(stderr=True)

# (module, attribute, name): each module owns one job and exposes a Typer app or a command.
_SUBCOMMANDS = [
    ("xalign.cli.plugins", "app", "plugins"),
    ("xalign.cli.generate", "generate", None),
    ("xalign.cli.train", "train", None),
    ("xalign.cli.eval", "app", "eval"),
    ("xalign.cli.data", "app", "data"),
    ("xalign.cli.convert", "app", "convert"),
    ("xalign.cli.encoders", "app", "encoders"),
    ("xalign.cli.llm", "app", "llm"),
    ("xalign.cli.serve", "serve", None),
]


def _mount_all() -> None:
    for module_name, attr, name in _SUBCOMMANDS:
        mount(app, module_name, attr, name)


_mount_all()


def main() -> None:
    """Run the CLI; user errors print one line and exit 1 unless ``--debug`` is given."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app(standalone_mode=False)
    except XalignError as exc:
        if debug:
            raise
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {exc} (rerun with --debug)")
        sys.exit(1)


if __name__ == "__main__":
    main()
