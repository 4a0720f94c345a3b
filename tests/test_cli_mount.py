"""A sub-command whose module fails to import is listed and reports why; nothing is skipped."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from xalign.cli._mount import group, mount
from xalign.errors import XalignError


def test_a_group_keeps_a_broken_module_as_an_unavailable_command() -> None:
    app = group("tools", ["xalign.cli.data_synth", "tests.fixture_plugins.broken_import"])
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "synth" in listing.output and "import" in listing.output
    assert "Unavailable: tests.fixture_plugins.broken_import failed to import" in listing.output
    result = runner.invoke(app, ["import", "--any", "args"])
    assert isinstance(result.exception, XalignError)
    assert "importing tests.fixture_plugins.broken_import failed (RuntimeError: boom at import)" \
        in str(result.exception)
    assert isinstance(result.exception.__cause__, RuntimeError)  # --debug shows its traceback


def test_a_top_level_command_that_fails_to_import_is_mounted_as_unavailable() -> None:
    app = typer.Typer()
    mount(app, "xalign.cli.plugins", "app", "plugins")
    mount(app, "tests.fixture_plugins.broken_import", "app", "fragile")
    with pytest.raises(XalignError, match="`xalign fragile` is unavailable"):
        CliRunner().invoke(app, ["fragile"], catch_exceptions=False)
    assert CliRunner().invoke(app, ["plugins", "--json"]).exit_code == 0
