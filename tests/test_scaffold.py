"""`xalign plugins new` makes a package that installs and is discovered."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.venv_tools import make_overlay_venv, pip
from xalign.errors import XalignError
from xalign.scaffold import scaffold_plugin


def test_scaffolded_plugin_installs_and_is_discovered(tmp_path: Path) -> None:
    root = scaffold_plugin("eeg", tmp_path)
    python = make_overlay_venv(tmp_path / "venv")
    result = pip(python, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(root))
    assert result.returncode == 0, result.stderr
    listing = subprocess.run([python, "-m", "xalign", "plugins", "--json"],
                             capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(listing.stdout)["modalities"]}
    assert rows["eeg"]["status"] == "ok", rows["eeg"]
    assert rows["eeg"]["distribution"] == "xalign-plugin-eeg"
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(root / "tests")], capture_output=True, text=True, cwd=root)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_bad_names_and_existing_dirs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(XalignError, match="invalid plugin name"):
        scaffold_plugin("EEG-2", tmp_path)
    scaffold_plugin("eeg", tmp_path)
    with pytest.raises(XalignError, match="already exists"):
        scaffold_plugin("eeg", tmp_path)
