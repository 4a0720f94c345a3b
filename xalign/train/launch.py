"""The set-up a training run starts from: its accelerator, its seeds, and what a multi-process
launch will really do on this machine (:class:`~xalign.train.engine.Trainer` uses them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xalign.train.precision import PrecisionChoice, choose_precision
from xalign.train.recipe import Recipe


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def launch_warning(env: dict[str, str] | None = None) -> str | None:
    """Why a multi-process launch will run as one process, or ``None``.

    ``accelerate launch --cpu --num_processes N`` starts N processes only through MPI
    (``--mpirun_hostfile``); without it, one process runs. torchrun-based launching works
    on CPU: ``accelerate launch --multi_gpu --num_processes N`` (or ``torchrun``).
    """
    import os

    env = dict(os.environ) if env is None else env
    sizes = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
    if env.get("ACCELERATE_USE_CPU", "").lower() == "true" and "MASTER_ADDR" in env \
            and not any(k in env for k in sizes):
        return ("`accelerate launch --cpu --num_processes N` starts N processes only through "
                "MPI (--mpirun_hostfile); this run is a single process. For DDP on CPU use "
                "`accelerate launch --multi_gpu --num_processes N -m xalign train …` (torchrun, "
                "gloo backend) or `torchrun --nproc_per_node N -m xalign train …`")
    engine = next((name for key, name in (("ACCELERATE_USE_FSDP", "FSDP"),
                                          ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed"))
                   if env.get(key, "").lower() == "true"), None)
    if engine and not torch.cuda.is_available():  # accelerate then runs DDP (docs/training.md)
        return (f"the launch asks for {engine}, but accelerate uses {engine} on GPUs only: on "
                "this CPU-only machine the run is plain DDP over gloo (weights and optimiser "
                "state replicated, not sharded)")
    return None


def reduce_scalar(acc: Any, value: float, op: str) -> float:
    """``value`` combined over every process of the run (``op``: "sum", "mean" or "max");
    as is in a one-process run, where no collective call is made."""
    if acc.num_processes == 1:
        return value
    return float(acc.reduce(torch.tensor(value, device=acc.device), op))


def make_accelerator(recipe: Recipe, run_dir: Path | None = None,
                     precision: PrecisionChoice | None = None) -> Any:
    """An ``Accelerator``: CPU unless CUDA is there; its mixed precision on GPU only (on CPU
    see :func:`xalign.train.precision.cpu_autocast`: accelerate's precision is process-wide
    state, which one process training several recipes, as ``make demo`` does, must not pin)."""
    from accelerate import Accelerator

    from xalign.train.trackers import check_trackers

    precision = precision or choose_precision(recipe.mixed_precision)
    cuda = precision.device == "cuda"
    return Accelerator(cpu=not cuda,
                       mixed_precision=precision.mode if cuda else "no",
                       log_with=check_trackers(recipe.report_to) or None,
                       project_dir=str(run_dir) if run_dir is not None else None)
