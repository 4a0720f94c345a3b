"""Progress you can follow in a log, stage times in the model card, a plot that draws chance,
and Ctrl-C / SIGTERM that checkpoint and say how to resume (real `xalign train` processes)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml
from xalign.train.progress import RunProgress, StageClock, duration, progress_interval
from xalign.train.report import metrics_figure

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] (?P<stage>[a-z ]+) (?P<done>\d+)/(?P<total>\d+)")


def _plain(interval: float) -> tuple[RunProgress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=60)
    return RunProgress(console, plain=None, interval=interval), out


def test_plain_lines_at_stage_changes_and_at_the_interval(monkeypatch):
    progress, out = _plain(interval=30)
    assert progress.plain  # not a terminal: lines, not bars
    clock = [1000.0]
    monkeypatch.setattr("xalign.train.progress.time.perf_counter", lambda: clock[0])
    progress.start("training", 100)
    for step in range(1, 101):
        clock[0] += 1.0  # one second per step: a line every 30 steps, and the last
        progress.update(step, loss=2.0 / step, lr=1e-3, sps=8.0)
    progress.start("evaluating test", 10)
    lines = out.getvalue().splitlines()
    steps = [int(LINE.match(x)["done"]) for x in lines if LINE.match(x)]
    assert steps == [0, 30, 60, 90, 100, 0], lines
    at_60 = lines[2]
    assert "training 60/100 (60%)" in at_60 and "loss 0.0333" in at_60
    assert "lr 1.00e-03" in at_60 and "8.0 samples/s" in at_60
    assert "1m00s, ETA 40s" in at_60  # 60 steps in 60 s, 40 to go
    assert all(len(x) > 60 for x in lines[1:4]), "long lines must not wrap"


def test_interval_from_the_environment():
    assert progress_interval({}) == 30
    assert progress_interval({"XALIGN_PROGRESS_EVERY": "5"}) == 5
    assert progress_interval({"XALIGN_PROGRESS_EVERY": "soon"}) == 30
    assert (duration(59), duration(75), duration(3725)) == ("59s", "1m15s", "1h02m")


def test_stage_clock_pauses_the_outer_stage(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("xalign.train.progress.time.perf_counter", lambda: clock[0])
    stages = StageClock(started=0.0)
    with stages.stage("train"):
        clock[0] += 10
        with stages.stage("evaluate"):
            clock[0] += 3
        clock[0] += 5
    assert stages.seconds == {"train": 15, "evaluate": 3}
    assert stages.total() == 18


def test_plot_draws_the_chance_line_for_a_single_validation():
    records = [{"step": s, "loss": 1.0 / s, "lr": 1e-3} for s in range(1, 21)]
    records.append({"step": 20, "val_accuracy": 0.8, "val_chance": 0.25})
    fig = metrics_figure(records)
    axis = fig.axes[2]
    (chance,) = [line for line in axis.lines if line.get_label() == "chance"]
    assert list(chance.get_ydata()) == [0.25, 0.25]
    assert list(chance.get_xdata()) == [0, 1]  # the whole width of the axis
    assert axis.get_xlim()[0] <= 1 and axis.get_xlim()[1] >= 20


def _recipe(tmp_path: Path, steps: int, every: int = 0, items: int = 24) -> Path:
    return tiny_recipe_yaml(
        tmp_path / "r.yaml", shared_tiny_llm(), tmp_path / "cache",
        data={"sources": [{"kind": "synthetic", "size": items, "tasks": ["classify"]}]},
        schedule={"max_steps": steps, "batch_size": 4, "log_every": 5},
        checkpoint={"every": every, "keep_last": 2},
        eval={"every": 0, "val_size": 8, "test_size": 8})


def _start(args: list[str], log: Path, interval: str = "0") -> subprocess.Popen:
    """``xalign train`` with stdout and stderr sent to ``log`` (not a terminal)."""
    env = {**ENV, "XALIGN_PROGRESS_EVERY": interval}
    with log.open("w") as f:
        return subprocess.Popen([sys.executable, "-m", "xalign", "train", *args], env=env,
                                stdout=f, stderr=subprocess.STDOUT, text=True)


def test_redirected_run_prints_progress_lines_and_stage_times(tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    proc = _start(["--recipe", str(_recipe(tmp_path, 12)), "--out", str(run)], log)
    assert proc.wait(timeout=600) == 0, log.read_text()
    text = log.read_text()
    stages = {m["stage"] for m in map(LINE.match, text.splitlines()) if m}
    assert stages == {"featurising", "training", "evaluating val", "evaluating test"}, text
    (last,) = [x for x in text.splitlines() if "training 12/12" in x]
    for field in ("loss ", "lr ", "samples/s"):
        assert field in last
    assert re.search(r"training \d+/12 \(\d+%\) .*ETA", text), text
    assert "precision: " in text  # the choice and its reason
    summary = json.loads((run / "summary.json").read_text())
    stage_seconds = summary["stage_seconds"]
    assert set(stage_seconds) == {"set-up", "featurise", "train", "evaluate"}
    assert sum(stage_seconds.values()) <= summary["seconds"] + 0.01
    assert stage_seconds["set-up"] > 0  # loading counts: the wall time starts before it
    card = (run / "README.md").read_text()
    assert re.search(r"wall time: \d+ s from start to finish \(set-up \d+ s, featurise \d+ s, "
                     r"train \d+ s, evaluate \d+ s\)", card), card


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not re.search(pattern, log.read_text()):
        assert proc.poll() is None, f"ended before {pattern!r}: {log.read_text()}"
        assert time.monotonic() < deadline, f"no {pattern!r} within {seconds} s"
        time.sleep(0.02)


def test_sigterm_checkpoints_prints_the_resume_command_and_exits_143(tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    # 40 steps: long enough to be caught in the middle (the signal follows the first step's
    # line), short enough to resume to the end
    proc = _start(["--recipe", str(_recipe(tmp_path, 40)), "--out", str(run)], log)
    _wait_for(log, r"training [1-9]\d*/40", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143, log.read_text()
    text = log.read_text()
    match = re.search(r"interrupted by SIGTERM at step (\d+)/40; checkpoint: (\S+)", text)
    assert match, text
    step, checkpoint = int(match[1]), Path(match[2])
    assert 0 < step < 40 and checkpoint == run / "checkpoints" / f"step-{step:06d}"
    assert (checkpoint / "state.json").is_file()
    assert not (run / "projector").exists()
    command = re.search(r"resume with: (.+)", text)[1]
    assert command == f"xalign train --resume {shlex.quote(str(run))}"

    # the printed command, as printed, finishes the run
    argv = shlex.split(command)
    resumed = subprocess.run([sys.executable, "-m", *argv], env=ENV, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {checkpoint}" in resumed.stdout.replace("\n", "")
    assert [s for s, _ in losses(run)] == list(range(5, 41, 5))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["resumed_at_step"] == step


@pytest.mark.slow
def test_ctrl_c_during_featurising_writes_a_step_0_checkpoint_and_exits_130(tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    recipe = _recipe(tmp_path, 4, items=600)  # seconds of featurising to interrupt
    proc = _start(["--recipe", str(recipe), "--out", str(run)], log)
    _wait_for(log, r"featurising \d+/", proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, log.read_text()
    text = log.read_text()
    assert "interrupted by SIGINT at step 0/4" in text, text
    assert (run / "checkpoints" / "step-000000" / "state.json").is_file()
