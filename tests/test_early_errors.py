"""Commands check their input files before loading any model: a missing file fails at once,
naming it, and the LLM is never loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

OLD_AUDIO = Path(__file__).parent / "data" / "projectors_v0" / "audio"


@pytest.fixture
def no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an LLM was loaded before the inputs were checked")

    import xalign.llm
    import xalign.model

    monkeypatch.setattr(xalign.llm, "load_llm", refuse)
    monkeypatch.setattr(xalign.model.XAlignModel, "from_pretrained", refuse)


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> str:
    from xalign.cli.main import main

    monkeypatch.setattr(sys, "argv", ["xalign", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1, err
    assert "Traceback" not in err and "AssertionError" not in err, err
    return " ".join(err.split())


@pytest.mark.parametrize("command", [
    ["eval", "classify"], ["eval", "caption"], ["eval", "qa"], ["eval", "discrn"]])
def test_a_missing_data_file_fails_before_the_llm_loads(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture, no_llm: None) -> None:
    missing = tmp_path / "absent.jsonl"
    err = run(monkeypatch, capsys, *command, "--projector", str(OLD_AUDIO), "--data",
              str(missing))
    assert "absent.jsonl" in err


def test_a_missing_projector_fails_before_the_llm_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        no_llm: None) -> None:
    err = run(monkeypatch, capsys, "eval", "classify", "--projector", str(tmp_path / "nope"),
              "--llm", "smollm2", "--modality", "audio")
    assert "nope" in err


def test_generate_checks_media_and_projectors_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        no_llm: None) -> None:
    err = run(monkeypatch, capsys, "generate", "--untrained", "audio", "--audio",
              str(tmp_path / "missing.wav"), "--prompt", "x")
    assert "missing.wav" in err
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    err = run(monkeypatch, capsys, "generate", "--audio", str(clip), "--prompt", "x")
    assert "no projector for modality 'audio'" in err


def test_train_reads_its_manifest_before_the_llm_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        no_llm: None) -> None:
    from tests.train_tiny import tiny_recipe_yaml

    recipe = tiny_recipe_yaml(tmp_path / "recipe.yaml", tmp_path / "llm", None, "audio",
                              data={"sources": [{"kind": "manifest",
                                                 "path": str(tmp_path / "gone.jsonl")}]})
    err = run(monkeypatch, capsys, "train", "--recipe", str(recipe), "--out",
              str(tmp_path / "run"), "--no-progress")
    assert "gone.jsonl" in err
