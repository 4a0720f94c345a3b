"""Trainings side by side (xalign/train/side_by_side.py): the core share, labelled lines, two
real runs in two processes on the tiny LLM, and a failing run named in the error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from tests.train_tiny import shared_tiny_llm, tiny_recipe_yaml
from xalign.errors import XalignError
from xalign.train.recipe_io import load_recipe
from xalign.train.side_by_side import CoreShare, Job, Labelled, train_side_by_side


class Counter:
    def __init__(self, value: int) -> None:
        self.value = value


def test_the_cores_go_to_the_runs_still_going():
    running = Counter(2)
    share = CoreShare(4, running)
    assert share.threads() == 2
    running.value = 3
    assert share.threads() == 1
    running.value = 1
    assert share.threads() == 4
    assert CoreShare(1, Counter(2)).threads() == 1  # never zero

    before = torch.get_num_threads()
    try:
        CoreShare(1, Counter(1)).apply(7)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_labelled_lines_are_whole_and_named():
    out = io.StringIO()
    stream = Labelled(out, "image | ")
    stream.write("training 1/")
    assert out.getvalue() == ""  # half a line waits for the rest
    stream.write("3\nevaluating\ndone")
    stream.flush()
    assert out.getvalue() == "image | training 1/3\nimage | evaluating\nimage | done\n"


def _job(tmp_path: Path, modality: str, **sections) -> Job:
    recipe = tiny_recipe_yaml(tmp_path / f"{modality}.yaml", shared_tiny_llm(),
                              tmp_path / "cache", modality=modality,
                              schedule={"max_steps": 3, "batch_size": 4, "log_every": 1},
                              eval={"every": 0, "val_size": 0, "test_size": 4}, **sections)
    return Job(modality, load_recipe(recipe), tmp_path / "runs" / modality)


def test_two_runs_train_side_by_side_in_two_processes(tmp_path, capfd):
    jobs = [_job(tmp_path, "image"), _job(tmp_path, "audio")]
    results = train_side_by_side(jobs, cores=2)

    assert set(results) == {"image", "audio"}
    for job in jobs:
        result = results[job.label]
        assert result.steps == 3 and result.test["n"] == 4
        assert (job.run_dir / "projector" / "model.safetensors").is_file()
        assert (job.run_dir / "summary.json").is_file()
    printed = capfd.readouterr().out.splitlines()
    for label in ("image", "audio"):  # each child's lines carry its name
        assert any(line.startswith(f"{label} | ") and "test accuracy" in line
                   for line in printed), printed


def test_a_failing_run_is_named_and_no_process_is_left(tmp_path):
    import multiprocessing

    missing = {"sources": [{"kind": "manifest", "path": str(tmp_path / "absent.jsonl")}]}
    jobs = [_job(tmp_path, "image", data=missing), _job(tmp_path, "audio")]
    with pytest.raises(XalignError, match=r"training image failed: .*absent\.jsonl"):
        train_side_by_side(jobs, cores=2)
    assert multiprocessing.active_children() == []


def test_a_sigterm_to_the_parent_stops_every_run_with_a_checkpoint(tmp_path):
    """A scheduler's SIGTERM reaches only the parent: it is passed on, each run checkpoints
    and ends, and the parent exits 143; no run keeps training on its own."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    def long_job(modality: str) -> Job:
        recipe = tiny_recipe_yaml(tmp_path / f"{modality}.yaml", shared_tiny_llm(),
                                  tmp_path / "cache", modality=modality,
                                  schedule={"max_steps": 100_000, "batch_size": 4},
                                  checkpoint={"every": 2, "keep_last": 1})
        return Job(modality, load_recipe(recipe), tmp_path / "runs" / modality)

    jobs = [long_job("image"), long_job("audio")]

    def terminate_once_both_checkpointed() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if all(any((job.run_dir / "checkpoints").glob("step-*")) for job in jobs):
                break
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    def not_passed_on(signum, frame):  # what the test process does if the runs miss it
        raise RuntimeError("SIGTERM was not handled by train_side_by_side")

    threading.Thread(target=terminate_once_both_checkpointed, daemon=True).start()
    original = signal.signal(signal.SIGTERM, not_passed_on)
    try:
        with pytest.raises(SystemExit) as stopped:
            train_side_by_side(jobs, cores=2)
        assert signal.getsignal(signal.SIGTERM) is not_passed_on  # restored after
    finally:
        signal.signal(signal.SIGTERM, original)
        left = multiprocessing.active_children()
        for process in left:
            process.kill()
    assert stopped.value.code == 143
    assert left == []
    for job in jobs:
        assert any((job.run_dir / "checkpoints").glob("step-*")), job.label
