"""``xalign generate``: media flags in order, untrained projectors offline, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fixtures_llm import shared_tiny_gguf
from xalign.cli.generate import parse_media_args
from xalign.errors import XalignError
from xalign.registry import get_registry


def _need(*names: str) -> None:
    missing = [n for n in names if n not in get_registry().modalities]
    if missing:
        pytest.skip(f"plugins not installed: {missing}")


def _write(name: str, folder: Path, index: int = 0) -> Path:
    modality = get_registry().get(name)
    return modality.write(modality.synthesize(index).raw, folder / f"{name}-{index}")


def _run(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> int:
    from xalign.cli import main

    gguf, cache = shared_tiny_gguf()
    monkeypatch.setenv("XALIGN_CACHE_DIR", str(cache))
    monkeypatch.setattr(sys, "argv", ["xalign", "generate", "--llm", str(gguf), *args])
    try:
        main.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_media_flags_keep_their_order() -> None:
    args = ["--audio", "a.wav", "--media", "image=b.png", "--3d=c.ply", "--audio", "d.wav"]
    assert parse_media_args(args) == [("audio", Path("a.wav")), ("image", Path("b.png")),
                                      ("3d", Path("c.ply")), ("audio", Path("d.wav"))]
    for bad, message in ((["a.wav"], "unexpected argument"), (["--audio"], "needs a value"),
                         (["--media", "b.png"], "MODALITY=PATH")):
        with pytest.raises(XalignError, match=message):
            parse_media_args(bad)


def test_untrained_projectors_run_offline_and_print_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _need("audio", "image")
    from xalign.model import XAlignModel

    seen = []
    real = XAlignModel.generate

    def spy(self, examples, **kwargs):
        seen.append([m.modality for m in examples[0].media])
        return real(self, examples, **kwargs)

    monkeypatch.setattr(XAlignModel, "generate", spy)
    audio, image = _write("audio", tmp_path), _write("image", tmp_path)
    code = _run(monkeypatch, ["--untrained", "audio", "--untrained", "image",
                              "--audio", str(audio), "--image", str(image), "--audio", str(audio),
                              "--prompt", "Describe the inputs.", "--preset", "caption",
                              "--max-new-tokens", "12"])
    assert code == 0
    assert seen == [["audio", "image", "audio"]]
    assert capsys.readouterr().out.strip()


def test_bad_media_and_missing_projectors_fail_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _need("image")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    code = _run(monkeypatch, ["--untrained", "image", "--image", str(broken), "--prompt", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.png" in err and "Traceback" not in err
    code = _run(monkeypatch, ["--image", str(_write("image", tmp_path)), "--prompt", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "projector for modality 'image'" in " ".join(err.split())


def test_generate_runs_on_the_llm_state_its_projectors_were_trained_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --llm, a projector trained on an LLM state (e.g. SmolLM2 after its comparison
    stage) is run on that state, never silently on the plain LLM; two states must be chosen."""
    import json
    import shutil

    from xalign.cli import generate as generate_cli
    from xalign.llm import loader

    _need("3d")
    source = Path(__file__).parent / "data" / "projectors_v0" / "3d"
    dirs = []
    for name, state in (("a", "smollm2+compare-abc"), ("b", "smollm2+compare-abc"),
                        ("c", "smollm2")):
        shutil.copytree(source, tmp_path / name)
        config = json.loads((tmp_path / name / "config.json").read_text())
        (tmp_path / name / "config.json").write_text(json.dumps({**config, "llm_id": state}))
        dirs.append(tmp_path / name)
    cloud = _write("3d", tmp_path)
    asked = []

    def fake_load_llm(source, **kwargs):
        asked.append(source)
        raise RuntimeError("stop after choosing the LLM")

    monkeypatch.setattr(loader, "load_llm", fake_load_llm)
    monkeypatch.setattr("xalign.llm.load_llm", fake_load_llm)
    with pytest.raises(RuntimeError, match="stop after"):
        generate_cli.run_generate([("3d", cloud)], "x", projector_dirs=dirs[:2])
    assert asked == ["smollm2+compare-abc"]
    with pytest.raises(XalignError, match="different LLMs"):
        generate_cli.run_generate([("3d", cloud)], "x", projector_dirs=[dirs[0], dirs[2]])
