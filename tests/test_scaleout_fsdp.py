"""Sharded optimiser state through xalign's checkpoints, with real FSDP over gloo on CPU.

accelerate (1.15) uses FSDP on GPUs only: on a CPU machine ``accelerate launch`` with
recipes/accelerate/fsdp.yaml runs plain DDP (xalign warns; docs/training.md). So the slow
test drives torch's FSDP directly: two processes (``torch.distributed.run``) train a small
module with FULL_SHARD, checkpoint with :func:`save_checkpoint` (each rank writes its own
optimiser shard, the weights are gathered whole), stop, and two new processes resume with
:func:`load_checkpoint` / :func:`load_optimizer` to the same final weights, bit for bit, as
an uninterrupted run. The accelerator's part is the FULL_STATE_DICT gather that
``Accelerator.get_state_dict`` does for FSDP, written out below.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from xalign.errors import CheckpointError
from xalign.train.checkpoint import (
    SingleProcess,
    load_checkpoint,
    load_optimizer,
    save_checkpoint,
)

STEPS, CUT = 8, 4


class Tiny(nn.Module):
    """Trainable layers and a frozen one, as a projector next to frozen parts."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(6, 16)
        self.out = nn.Linear(16, 3)
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.frozen(self.out(torch.tanh(self.inp(x))))


class FsdpProcesses:
    """What ``accelerate.Accelerator`` gives the checkpoint under FSDP, for torch's FSDP."""

    distributed_type = "FSDP"

    def __init__(self) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.process_index, self.num_processes = dist.get_rank(), dist.get_world_size()
        self.is_main_process = self.process_index == 0

    def wait_for_everyone(self) -> None:
        self.dist.barrier()

    def get_state_dict(self, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        from torch.distributed.fsdp import FullStateDictConfig, StateDictType
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        # accelerate offloads to CPU as well; on CPU that copy segfaults in torch 2.13's
        # FSDP state-dict hook (clone of the offloaded tensor), and is pointless anyway
        config = FullStateDictConfig(offload_to_cpu=False, rank0_only=True)
        with FSDP.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, config):
            return wrapped.state_dict()


def _batch(step: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 * step + rank)
    return torch.randn(4, 6, generator=g), torch.randn(4, 3, generator=g)


def worker(mode: str, run_dir: Path) -> None:
    """``whole``: train STEPS; ``cut``: train CUT, checkpoint, stop; ``resume``: continue."""
    import torch.distributed as dist
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp import ShardingStrategy

    from xalign.train.checkpoint import find_checkpoint, gathered_trainable

    dist.init_process_group("gloo")
    procs = FsdpProcesses()
    torch.manual_seed(0)
    module = Tiny()
    start, folder = 0, None
    if mode == "resume":
        folder = find_checkpoint(run_dir)
        state, _ = load_checkpoint(folder, module, rank=procs.process_index)
        start = int(state["step"])
    wrapped = FSDP(module, sharding_strategy=ShardingStrategy.FULL_SHARD, use_orig_params=True,
                   device_id=torch.device("cpu"))
    optimizer = torch.optim.AdamW([p for p in wrapped.parameters() if p.requires_grad], lr=0.05)
    if folder is not None:
        load_optimizer(folder, optimizer, procs)
    for step in range(start, STEPS):
        x, y = _batch(step, procs.process_index)
        nn.functional.mse_loss(wrapped(x), y).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step + 1 == CUT:
            save_checkpoint(run_dir, CUT, module, optimizer, {"world_size": 2}, procs,
                            wrapped=wrapped)
            if mode == "cut":
                dist.destroy_process_group()
                os._exit(0)  # stop here, as a killed run would
    weights = gathered_trainable(module, procs, wrapped)
    if procs.is_main_process:
        save_file({k: v.contiguous() for k, v in weights.items()},
                  str(run_dir / "final.safetensors"))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(mode: str, run_dir: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), __file__, mode,
         str(run_dir)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_fsdp_sharded_optimizer_resumes_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir()
    cut.mkdir()
    _run("whole", whole)
    _run("cut", cut)
    checkpoint = cut / "checkpoints" / f"step-{CUT:06d}"
    assert not (cut / "final.safetensors").exists()
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["optimizer_shards"] == 2 and not (checkpoint / "optimizer.json").exists()
    shards = [load_file(checkpoint / f"optimizer-rank{r}.safetensors") for r in (0, 1)]
    sizes = [sum(t.numel() for k, t in s.items() if k.endswith("exp_avg")) for s in shards]
    trainable = load_file(checkpoint / "trainable.safetensors")
    assert sorted(trainable) == ["inp.bias", "inp.weight", "out.bias", "out.weight"]
    assert trainable["inp.weight"].shape == (16, 6)  # gathered whole, not a shard
    full = sum(t.numel() for t in trainable.values())
    assert sum(sizes) == full and 0 < sizes[0] < full, f"not sharded: {sizes} of {full}"

    _run("resume", cut)
    a, b = load_file(whole / "final.safetensors"), load_file(cut / "final.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed FSDP run ended elsewhere"

    module, optimizer = Tiny(), torch.optim.AdamW(Tiny().parameters())
    load_checkpoint(checkpoint, module)  # whole weights load anywhere…
    with pytest.raises(CheckpointError, match="sharded over 2 processes"):
        load_optimizer(checkpoint, optimizer)  # …a shard of the optimiser does not


class _Sharded(SingleProcess):
    distributed_type = "DEEPSPEED"
    num_processes = 2


def test_unsharded_optimizer_state_is_refused_by_a_sharded_run(tmp_path: Path) -> None:
    module = Tiny()
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad])
    folder = save_checkpoint(tmp_path, 3, module, optimizer, {})
    assert json.loads((folder / "state.json").read_text())["optimizer_shards"] == 0
    load_optimizer(folder, optimizer)
    with pytest.raises(CheckpointError, match="unsharded"):
        load_optimizer(folder, optimizer, _Sharded())


def test_a_shard_of_another_shape_is_named(tmp_path: Path) -> None:
    module = Tiny()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params)
    sum(p.sum() for p in params).backward()
    optimizer.step()
    folder = save_checkpoint(tmp_path, 1, module, optimizer, {})
    other = torch.optim.AdamW([nn.Parameter(torch.zeros(5)) for _ in params])
    with pytest.raises(CheckpointError, match=r"state 0\.exp_avg has shape \(16, 6\)"):
        load_optimizer(folder, other)


def test_fsdp_or_deepspeed_launch_on_a_cpu_machine_is_flagged() -> None:
    from xalign.train.launch import launch_warning

    if torch.cuda.is_available():
        pytest.skip("the warning is for CPU-only machines")
    assert "plain DDP" in launch_warning({"ACCELERATE_USE_FSDP": "true"})
    assert "DeepSpeed" in launch_warning({"ACCELERATE_USE_DEEPSPEED": "true"})
    assert launch_warning({"ACCELERATE_USE_FSDP": "false"}) is None


if __name__ == "__main__":
    worker(sys.argv[1], Path(sys.argv[2]))
