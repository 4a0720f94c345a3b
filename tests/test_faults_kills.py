"""kill -9 a training run several times at random steps; the resumed run is bit-identical.

Long (a few minutes): marked slow, run by `make test-long` / `make faults`.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.test_train_resume import _train
from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml

STEPS, KILLS = 48, 3


@pytest.mark.slow
def test_repeated_sigkill_and_resume_reproduce_the_uninterrupted_run(tmp_path: Path) -> None:
    recipe = tiny_recipe_yaml(tmp_path / "r.yaml", shared_tiny_llm(), tmp_path / "cache",
                              schedule={"max_steps": STEPS, "batch_size": 4, "log_every": 1},
                              checkpoint={"every": 3, "keep_last": 2})
    whole = _train("--recipe", str(recipe), "--out", str(tmp_path / "whole"))
    run_dir = tmp_path / "cut"
    rng = random.Random(0)
    survived = 0
    process = _train("--recipe", str(recipe), "--out", str(run_dir))
    for _ in range(KILLS):
        done = max((s for s, _ in losses(run_dir)), default=0) if run_dir.exists() else 0
        target = done + rng.randint(4, 10)  # a random step a little ahead
        deadline = time.monotonic() + 240
        while not (run_dir / "metrics.jsonl").exists() or \
                max((s for s, _ in losses(run_dir)), default=0) < target:
            assert process.poll() is None, f"run ended before the kill: {process.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL
        survived += 1
        process = _train("--resume", str(run_dir))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    _, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err

    reference = losses(tmp_path / "whole")
    resumed = dict(losses(run_dir))  # steps replayed after a kill overwrite their first try
    assert [resumed[s] for s, _ in reference] == [loss for _, loss in reference]
    a = load_file(tmp_path / "whole" / "projector" / "model.safetensors")
    b = load_file(run_dir / "projector" / "model.safetensors")
    identical = all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()
    print(f"kills survived: {survived}; resumed projector identical: {identical}")
    assert identical
