"""Two "nodes" on localhost (one process each) train exactly what one node with two does.

``accelerate launch --num_machines 2 --machine_rank 0/1 --main_process_ip 127.0.0.1`` is the
multi-node path of a cluster (docs/training.md, SLURM); here both machines are this one, the
run folder and the feature cache are shared as they would be on shared storage. DDP over gloo.
Each launch takes about a minute on an idle CPU (several under load): marked slow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(recipe: Path, out: Path, machines: int, rank: int, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
         "--num_processes", "2", "--num_machines", str(machines), "--machine_rank", str(rank),
         "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
         "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "xalign", "train", "--recipe", str(recipe), "--out", str(out), "--no-progress"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]


@pytest.mark.slow
def test_two_nodes_of_one_process_equal_one_node_of_two(tmp_path: Path) -> None:
    recipe = tiny_recipe_yaml(tmp_path / "r.yaml", shared_tiny_llm(), tmp_path / "cache",
                              schedule={"max_steps": 6, "batch_size": 2, "log_every": 1},
                              checkpoint={"every": 3, "keep_last": 2}, mixed_precision="no")
    finish(launch(recipe, tmp_path / "one", machines=1, rank=0, port=free_port()))
    port = free_port()
    nodes = [launch(recipe, tmp_path / "two", machines=2, rank=r, port=port) for r in (1, 0)]
    for node in nodes:
        finish(node)

    assert losses(tmp_path / "two") == losses(tmp_path / "one")
    assert [s for s, _ in losses(tmp_path / "two")] == list(range(1, 7))
    one = load_file(tmp_path / "one" / "projector" / "model.safetensors")
    two = load_file(tmp_path / "two" / "projector" / "model.safetensors")
    assert one.keys() == two.keys()
    assert all(torch.equal(one[k], two[k]) for k in one), "two nodes trained another projector"
    checkpoint = tmp_path / "two" / "checkpoints" / "step-000006"
    assert (checkpoint / "rng-rank0.json").is_file() and (checkpoint / "rng-rank1.json").is_file()
