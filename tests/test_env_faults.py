"""Environment faults (issue 16, point 2): a missing system library or decoder is not bad data.

Each test hides a module in a child process (``tests/faults/hide/sitecustomize.py``),
as on a machine that lacks it: open3d failing on ``libusb-1.0.so.0`` exactly as the
dynamic loader reports it, PyAV not installed, Pillow built without WEBP. The fault
must be an :class:`EnvironmentFault` (not a :class:`MediaError`), one line that says
the fix, exit 1, and no item may be counted as a bad file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.train_tiny import shared_tiny_llm, tiny_recipe_yaml
from xalign.data.skips import SkipReport
from xalign.errors import EnvironmentFault, MediaError, XalignError

ROOT = Path(__file__).resolve().parents[1]
HIDE = ROOT / "tests" / "faults" / "hide"
NO_LIBUSB = "open3d=libusb-1.0.so.0: cannot open shared object file: No such file or directory"
# modality -> (modules to hide, a word of the fix, a suffix whose loading needs what is hidden)
FAULTS = {
    "3d": (NO_LIBUSB, "apt-get install libusb-1.0-0", ".obj"),
    "video": ("av", "pip install av", ".mp4"),
    "audio": ("av", "pip install av", ".mp3"),
    "image": ("PIL._webp", "pip install --force-reinstall pillow", ".webp"),
}


def _child_env(hidden: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HIDE), str(ROOT), env.get("PYTHONPATH", "")])
    env["XALIGN_HIDE_MODULES"] = hidden
    env["COLUMNS"] = "400"  # rich would wrap the one-line error at 80 columns
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", XALIGN_STRICT_PLUGINS="0")
    return env


def _write_media(folder: Path) -> dict[str, Path]:
    """One valid file per modality, in the format whose decoder the tests hide."""
    import av
    import open3d as o3d
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    files = {"3d": folder / "box.obj", "video": folder / "clip.mp4",
             "audio": folder / "tone.mp3", "image": folder / "pic.webp"}
    rng = np.random.default_rng(0)
    o3d.io.write_triangle_mesh(str(files["3d"]), o3d.geometry.TriangleMesh.create_box())
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(files["image"])
    with av.open(str(files["video"]), "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(files["audio"]), "w") as out:
        stream = out.add_stream("mp3", rate=16000)
        stream.layout = "mono"
        tone = np.sin(np.arange(8000) / 5.0).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return files


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write_media(tmp_path_factory.mktemp("env-media"))


def test_environment_fault_is_a_user_error_but_never_a_media_error() -> None:
    fault = EnvironmentFault("open3d cannot load", "apt-get install libusb-1.0-0")
    assert isinstance(fault, XalignError) and not isinstance(fault, MediaError)
    assert str(fault) == "open3d cannot load; fix: apt-get install libusb-1.0-0"
    assert str(EnvironmentFault("two\nlines")) == "two lines"  # one line whatever it wraps


def test_a_skip_report_refuses_to_count_an_environment_fault() -> None:
    report = SkipReport()
    fault = EnvironmentFault("av cannot be imported", "pip install av")
    try:  # a wrapper that turned the fault into a MediaError must not hide it
        try:
            raise fault
        except EnvironmentFault as exc:
            raise MediaError("clip.mp4", "video loader failed") from exc
    except MediaError as wrapped:
        with pytest.raises(EnvironmentFault):
            report.add_error("item-1", wrapped)
    report.add_error("item-2", MediaError("bad.mp4", "truncated"))
    assert [s.item_id for s in report.skips] == ["item-2"]


def test_loaders_raise_environment_faults_with_the_fix(media: dict[str, Path]) -> None:
    """Every plugin, its decoder hidden: EnvironmentFault naming the fix; other formats load."""
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        from xalign.errors import EnvironmentFault, MediaError
        from xalign.media import check_environment
        from xalign.registry import get_modality
        files, out = json.loads(sys.argv[1]), {}
        for name, path in files.items():
            modality = get_modality(name)
            row = {}
            for label, call in (("load", lambda: modality.load(path)),
                                ("check", lambda: check_environment(modality))):
                try:
                    call()
                    row[label] = ["ok", ""]
                except Exception as exc:
                    row[label] = [type(exc).__name__, str(exc), isinstance(exc, MediaError)]
            out[name] = row
        np.save(sys.argv[2], np.random.default_rng(0).uniform(-1, 1, (32, 3)))
        out["npy"] = get_modality("3d").load(sys.argv[2]).shape  # NumPy needs no open3d
        print(json.dumps(out))
    """)
    hidden = ";".join(dict.fromkeys(spec for spec, _, _ in FAULTS.values()))
    npy = media["3d"].with_name("cloud.npy")
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps({k: str(v) for k, v in media.items()}),
         str(npy)], env=_child_env(hidden), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (_, fix, _) in FAULTS.items():
        for label in ("load", "check"):
            kind, message, *media_error = result[name][label]
            assert kind == "EnvironmentFault", (name, label, kind, message)
            assert media_error == [False]
            assert fix in message and "\n" not in message, message
    assert "libusb-1.0.so.0" in result["3d"]["load"][1]
    assert result["npy"] == [32, 3]


def _manifest(folder: Path, name: str, path: Path, count: int = 6) -> Path:
    lines = [{"id": f"item{i}", "media": {name: str(path)}, "instruction": "describe this",
              "answer": "a shape"} for i in range(count)]
    manifest = folder / f"{name}.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


@pytest.mark.parametrize("name", ["3d", pytest.param("audio", marks=pytest.mark.slow)])
def test_training_stops_at_run_start_with_one_line_and_exit_1(
        tmp_path: Path, media: dict[str, Path], name: str) -> None:
    hidden, fix, _ = FAULTS[name]
    recipe = tiny_recipe_yaml(
        tmp_path / "recipe.yaml", shared_tiny_llm(), None, modality=name,
        data={"sources": [{"kind": "manifest", "path": str(_manifest(tmp_path, name,
                                                                     media[name]))}]})
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "xalign.cli.main", "train", "--recipe", str(recipe),
         "--out", str(run), "--no-progress"],
        env=_child_env(hidden), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and fix in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    # stopped before touching data: nothing counted, nothing listed, no checkpoint
    assert not (run / "skipped.jsonl").exists() or not (run / "skipped.jsonl").read_text()
    assert not (run / "checkpoints").exists()


def test_training_past_the_start_check_still_counts_no_bad_file(
        tmp_path: Path, media: dict[str, Path]) -> None:
    """Without the run-start check, the data path itself must stop on the fault, not skip."""
    hidden, fix, _ = FAULTS["3d"]
    recipe = tiny_recipe_yaml(
        tmp_path / "recipe.yaml", shared_tiny_llm(), None, modality="3d",
        data={"sources": [{"kind": "manifest",
                           "path": str(_manifest(tmp_path, "3d", media["3d"]))}]})
    run = tmp_path / "run"
    script = textwrap.dedent("""
        import sys
        import xalign.media
        from xalign.errors import EnvironmentFault
        from xalign.train.recipe_io import load_recipe
        from xalign.train.run import train_recipe
        xalign.media.check_plugin_environment = lambda name: None  # skip the run-start check
        recipe = load_recipe(sys.argv[1]).model_copy(update={"max_bad_fraction": 0.9})
        try:
            train_recipe(recipe, sys.argv[2], show_progress=False)
        except EnvironmentFault as exc:
            print("FAULT", exc)
            sys.exit(1)
        print("NO FAULT")
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(recipe), str(run)],
                          env=_child_env(hidden), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "FAULT" in proc.stdout and fix in proc.stdout, proc.stdout
    skipped = run / "skipped.jsonl"
    assert not skipped.exists() or skipped.read_text() == "", skipped.read_text()
