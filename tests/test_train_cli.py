"""`xalign train --modality M` on the embedded default (SmolLM2, tiny encoder, linear map)."""

from __future__ import annotations

import json
import sys

import pytest
import yaml


def _cli(monkeypatch, *args: str) -> int:
    from xalign.cli.main import main

    monkeypatch.setattr(sys, "argv", ["xalign", *args])
    try:
        main()
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_modality_default_trains_and_evaluates(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    code = _cli(monkeypatch, "train", "--modality", "audio", "--out", str(run), "--no-progress",
                "schedule.max_steps=2", "schedule.batch_size=2", "data.sources.0.size=8",
                "eval.val_size=0", "eval.test_size=3", f"cache.dir={tmp_path / 'cache'}",
                "checkpoint.every=0")
    assert code == 0, capsys.readouterr().err
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    assert (recipe["name"], recipe["llm"]["source"], recipe["encoder"]["source"]) == (
        "tiny-audio", "smollm2-compare", None)
    assert (recipe["projector"]["kind"], recipe["mixed_precision"]) == ("qformer", "auto")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["test"]["n"] == 3
    assert (run / "projector" / "model.safetensors").is_file()
    assert "synthetic world only" in (run / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["image", "video", "audio", "3d"])
def test_embedded_default_learns(tmp_path, monkeypatch, modality):
    """The whole default run (a few minutes): held-out accuracy far above chance."""
    monkeypatch.chdir(tmp_path)
    assert _cli(monkeypatch, "train", "--modality", modality, "--no-progress") == 0
    (run,) = (tmp_path / "runs").iterdir()
    test = json.loads((run / "summary.json").read_text())["test"]
    assert test["chance"] <= 0.25
    assert test["accuracy"] >= 0.8, test
