"""`xalign plugins check NAME`: a scaffolded plugin passes; each broken part is named."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from xalign.plugin_check import check_plugin
from xalign.registry import Registry
from xalign.scaffold import scaffold_plugin


def scaffolded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
               edits: dict[str, tuple[str, str]] | None = None) -> Registry:
    """A registry holding a freshly scaffolded plugin ``name`` (edited), importable in-process."""
    root = scaffold_plugin(name, tmp_path)
    for filename, (old, new) in (edits or {}).items():
        path = root / f"xalign_plugin_{name}" / filename
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))
    monkeypatch.syspath_prepend(str(root))
    for module in [m for m in sys.modules if m.startswith(f"xalign_plugin_{name}")]:
        monkeypatch.delitem(sys.modules, module)
    entry = md.EntryPoint(name=name, value=f"xalign_plugin_{name}.plugin", group="xalign")
    return Registry(strict=True).discover([entry])


def test_the_scaffold_passes_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = check_plugin("eeg", scaffolded(tmp_path, monkeypatch, "eeg"))
    assert report.ok, report.problems
    assert "eeg/tiny: the network gives [F, tokens_per_frame, feature_dim]" in report.passed
    assert len(report.passed) == 6


def test_each_broken_part_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = scaffolded(tmp_path, monkeypatch, "flaky", {
        "signal.py": ("    rng = np.random.default_rng(seed)",
                      "    rng = np.random.default_rng()  # forgot the seed"),
        "plugin.py": ("    feature_dim=DIM,", "    feature_dim=DIM + 1,"),
    })
    signal = tmp_path / "xalign-plugin-flaky" / "xalign_plugin_flaky" / "signal.py"
    signal.write_text(signal.read_text().replace(
        '        raise MediaError(path, f"not a readable .npy array ({exc})") from exc',
        "        raise ValueError(str(exc)) from exc"))
    problems = "\n".join(check_plugin("flaky", registry).problems)
    assert "flaky: synthesize(0) is deterministic: two calls gave different raw items" in problems
    assert "flaky: a corrupt file raises MediaError naming it: raised ValueError" in problems
    assert "flaky/tiny: the network gives [F, tokens_per_frame, feature_dim]" in problems
    assert "declares feature_dim 65, its network gives 64" in problems


def test_unknown_and_broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry().discover([
        md.EntryPoint(name="bad", value="tests.fixture_plugins.broken_import", group="xalign")])
    assert "no installed plugin 'eeg'" in check_plugin("eeg", registry).problems[0]
    assert "plugin 'bad' is broken: import failed" in check_plugin("bad", registry).problems[0]
