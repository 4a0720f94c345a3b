"""Real DDP on CPU (gloo): `accelerate launch --multi_gpu --num_processes 2 -m xalign train`.

On a machine without GPUs ``--multi_gpu`` is accelerate's torchrun launcher; the processes
find no CUDA and run DDP over gloo. (``accelerate launch --cpu`` needs MPI for more than one
process; xalign warns when that launch silently runs a single process.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml


def test_two_process_ddp_trains_identical_replicas(tmp_path):
    recipe = tiny_recipe_yaml(tmp_path / "r.yaml", shared_tiny_llm(), tmp_path / "cache",
                              schedule={"max_steps": 6, "batch_size": 2, "log_every": 1},
                              checkpoint={"every": 3, "keep_last": 2})
    run_dir = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "xalign", "train", "--recipe", str(recipe), "--out", str(run_dir),
         "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 6
    digests = summary["replica_digests"]
    assert len(digests) == 2 and digests[0] == digests[1], "replicas diverged"
    checkpoint = run_dir / "checkpoints" / "step-000006"
    assert (checkpoint / "rng-rank0.json").is_file() and (checkpoint / "rng-rank1.json").is_file()
    # each step saw a global batch of 2 processes x 2 items
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["world_size"] == 2 and state["data"] == {"epoch": 0, "batch": 6}
    assert [s for s, _ in losses(run_dir)] == list(range(1, 7))
    assert (run_dir / "projector" / "model.safetensors").is_file()


def test_cpu_launch_without_mpi_is_flagged():
    from xalign.train.launch import launch_warning

    single = {"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert "--multi_gpu" in launch_warning(single)
    assert launch_warning({**single, "WORLD_SIZE": "2"}) is None
    assert launch_warning({}) is None
