"""A real `xalign train` process killed with SIGKILL, then resumed, reproduces the whole run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml

# Same threads in every process: the float reduction order (hence the bits) depends on it.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _train(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xalign", "train", "--no-progress", *args],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    recipe = tiny_recipe_yaml(tmp_path / "r.yaml", shared_tiny_llm(), tmp_path / "cache",
                              schedule={"max_steps": 60, "batch_size": 4, "log_every": 1},
                              checkpoint={"every": 4, "keep_last": 2},
                              mixed_precision="bf16")  # as the tiny recipes: CPU autocast
    whole = _train("--recipe", str(recipe), "--out", str(tmp_path / "whole"))
    cut_dir = tmp_path / "cut"
    cut = _train("--recipe", str(recipe), "--out", str(cut_dir))
    deadline = time.monotonic() + 240
    while not (cut_dir / "checkpoints" / "step-000008").is_dir():
        assert cut.poll() is None, f"run ended before it could be killed: {cut.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.02)
    cut.send_signal(signal.SIGKILL)
    cut.wait(timeout=60)
    assert cut.returncode == -signal.SIGKILL
    assert not (cut_dir / "projector").exists(), "the run finished before the kill"
    killed_at = max(step for step, _ in losses(cut_dir))
    assert killed_at < 60

    resumed = _train("--resume", str(cut_dir))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resumed from" in out + err
    _, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err

    assert losses(cut_dir) == losses(tmp_path / "whole")  # exact floats, every step
    assert [s for s, _ in losses(cut_dir)] == list(range(1, 61))
    a = load_file(tmp_path / "whole" / "projector" / "model.safetensors")
    b = load_file(cut_dir / "projector" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "final projector differs"
    assert Path(cut_dir / "checkpoints").is_dir()
