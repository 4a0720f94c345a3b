"""Atomic training checkpoints without pickle: safetensors for tensors, JSON for the rest.

A checkpoint is a folder ``<run>/checkpoints/step-000123/`` holding

* ``trainable.safetensors``: every trainable parameter by name (projector, LoRA…);
* ``optimizer.safetensors`` + ``optimizer.json``: the optimiser's tensors and its scalars
  and param groups; with a sharded optimiser (FSDP, DeepSpeed ZeRO) each process holds only
  its part of the state, so each writes its own ``optimizer-rank<r>.*`` (the per-rank layout
  of accelerate's ``save_state`` and DeepSpeed's ``zero_pp_rank_*`` files, without pickle);
* ``rng-rank<r>.safetensors`` + ``rng-rank<r>.json``: python, numpy and torch RNG states of
  each process (a resumed run continues every random stream where it stopped);
* ``state.json``: step, data position, scheduler, best metric and the rest, written last.

The folder is written as ``.step-000123.tmp`` and renamed into place (``os.replace`` is
atomic), so a run killed mid-save leaves the previous checkpoint as the latest one.

Weights are gathered through the accelerator (``get_state_dict``: FSDP's full state dict,
DeepSpeed's or DDP's unwrapped module), so every engine writes the same unsharded
``trainable.safetensors``. The optimiser state is loaded after ``Accelerator.prepare``
(:func:`load_optimizer`), when a sharded optimiser holds the tensors its part belongs to.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from xalign.errors import CheckpointError

FORMAT = 1  # sharded optimiser files are an addition a format-1 reader checks for
_STEP_DIR = re.compile(r"^step-(\d+)$")


class Processes(Protocol):
    """What checkpointing needs to know about the processes (``accelerate.Accelerator`` fits)."""

    is_main_process: bool
    process_index: int

    def wait_for_everyone(self) -> None: ...


def sharded_optimizer(procs: Any) -> bool:
    """Whether each process holds its own part of the optimiser state (FSDP, DeepSpeed)."""
    kind = getattr(procs, "distributed_type", None)
    return getattr(kind, "value", kind) in {"FSDP", "DEEPSPEED"}


class SingleProcess:
    """:class:`Processes` for a plain single-process run."""

    is_main_process = True
    process_index = 0

    def wait_for_everyone(self) -> None:
        return None


# -- files ---------------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    _fsync(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (incomplete checkpoint?)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable: {exc}") from exc


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(path))
    _fsync(path)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (incomplete checkpoint?)")
    try:
        return load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt safetensors file: {exc}") from exc


# -- optimiser -----------------------------------------------------------------------------
def optimizer_to_files(optimizer: torch.optim.Optimizer, folder: Path,
                       stem: str = "optimizer") -> None:
    """Split ``optimizer.state_dict()`` into tensors (safetensors) and scalars (JSON)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    write_tensors(folder / f"{stem}.safetensors", tensors)
    write_json(folder / f"{stem}.json", {"param_groups": state["param_groups"],
                                         "scalars": scalars})


def optimizer_from_files(optimizer: torch.optim.Optimizer, folder: Path,
                         stem: str = "optimizer") -> None:
    meta = read_json(folder / f"{stem}.json")
    state: dict[int, dict[str, Any]] = {}
    for key, value in read_tensors(folder / f"{stem}.safetensors").items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    groups = meta["param_groups"]
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    own = [p for group in optimizer.param_groups for p in group["params"]]
    for index, values in state.items():  # load_state_dict checks counts, not shapes
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.ndim and index < len(own) \
                    and value.shape != own[index].shape:
                raise CheckpointError(
                    f"{folder}: {stem} state {index}.{key} has shape {tuple(value.shape)}, this "
                    f"run's parameter is {tuple(own[index].shape)}; was it made by another "
                    "engine or number of processes?")
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{folder}: optimiser state does not fit this run: {exc}") from exc


# -- RNG -----------------------------------------------------------------------------------
def rng_to_files(folder: Path, rank: int) -> None:
    """Save python, numpy and torch (CPU and CUDA) RNG states of this process."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors = {"torch": torch.get_rng_state(),
               "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32))}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    version, internal, py_gauss = random.getstate()
    write_tensors(folder / f"rng-rank{rank}.safetensors", tensors)
    write_json(folder / f"rng-rank{rank}.json", {
        "python": [version, list(internal), py_gauss],
        "numpy": [kind, int(pos), int(has_gauss), float(gauss)],
    })


def rng_from_files(folder: Path, rank: int) -> bool:
    """Restore this process's RNG states; False when the checkpoint has none for ``rank``."""
    if not (folder / f"rng-rank{rank}.json").is_file():
        return False
    meta = read_json(folder / f"rng-rank{rank}.json")
    tensors = read_tensors(folder / f"rng-rank{rank}.safetensors")
    version, internal, py_gauss = meta["python"]
    random.setstate((version, tuple(internal), py_gauss))
    kind, pos, has_gauss, gauss = meta["numpy"]
    keys = tensors["numpy_keys"].numpy().view(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, gauss))
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("cuda"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    return True


# -- trainable weights ---------------------------------------------------------------------
def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in module.named_parameters() if p.requires_grad}


def gathered_trainable(module: nn.Module, procs: Any, wrapped: nn.Module | None
                       ) -> dict[str, torch.Tensor]:
    """The trainable weights, whole, on the main process (a collective: every process calls).

    Under FSDP ``module``'s parameters are shards between steps; the accelerator's
    ``get_state_dict`` gathers them (and unwraps DDP and DeepSpeed).
    """
    names = set(trainable_state(module))
    if wrapped is None or not hasattr(procs, "get_state_dict"):
        return trainable_state(module)
    full = procs.get_state_dict(wrapped)
    if not procs.is_main_process:
        return {}
    missing = sorted(names - set(full))
    if missing:
        raise CheckpointError(f"the accelerator's state dict lacks trainable tensors {missing[:3]} "
                              "(FSDP: keep fsdp_state_dict_type: FULL_STATE_DICT)")
    return {n: full[n] for n in names}


def load_trainable(module: nn.Module, folder: Path) -> None:
    saved = read_tensors(folder / "trainable.safetensors")
    own = trainable_state(module)
    if set(saved) != set(own):
        missing, extra = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
        raise CheckpointError(f"{folder}: trainable parameters differ from this run's "
                              f"(missing {missing[:3]}, unexpected {extra[:3]}); was it made "
                              "with another recipe?")
    with torch.no_grad():
        for name, param in own.items():
            if saved[name].shape != param.shape:
                raise CheckpointError(f"{folder}: {name} has shape {tuple(saved[name].shape)}, "
                                      f"this run's is {tuple(param.shape)}")
            param.copy_(saved[name])


# -- folders -------------------------------------------------------------------------------
def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, oldest first (temporary folders are ignored)."""
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / "state.json").is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def find_checkpoint(path: Path) -> Path:
    """``path`` itself when it is a checkpoint, else the latest checkpoint of the run ``path``."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"no checkpoint found in {path} (expected {path}/checkpoints/"
                              "step-*/state.json); nothing to resume")
    return found[-1][1]


@contextlib.contextmanager
def atomic_folder(final: Path, procs: Processes) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``final`` atomically when the block ends.

    Every process enters; only the main process creates, renames and removes.
    """
    tmp = final.parent / f".{final.name}.tmp"
    if procs.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed mid-save
        tmp.mkdir(parents=True)
    procs.wait_for_everyone()
    yield tmp
    procs.wait_for_everyone()
    if procs.is_main_process:
        _fsync(tmp)
        old = final.parent / f".{final.name}.old"
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync(final.parent)
        shutil.rmtree(old, ignore_errors=True)
    procs.wait_for_everyone()


def save_checkpoint(run_dir: Path, step: int, module: nn.Module,
                    optimizer: torch.optim.Optimizer, state: dict[str, Any],
                    procs: Processes | None = None, keep_last: int = 2,
                    wrapped: nn.Module | None = None) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the last ``keep_last``.

    ``wrapped``: ``module`` as ``Accelerator.prepare`` returned it (weights are gathered
    through it); ``optimizer``: the optimiser whose state this process holds (after prepare).
    """
    procs = procs or SingleProcess()
    final = checkpoints_dir(run_dir) / f"step-{step:06d}"
    sharded = sharded_optimizer(procs)
    with atomic_folder(final, procs) as tmp:
        rng_to_files(tmp, procs.process_index)
        weights = gathered_trainable(module, procs, wrapped)
        if sharded:
            optimizer_to_files(optimizer, tmp, f"optimizer-rank{procs.process_index}")
        if procs.is_main_process:
            write_tensors(tmp / "trainable.safetensors", weights)
            if not sharded:
                optimizer_to_files(optimizer, tmp)
            shards = getattr(procs, "num_processes", 1) if sharded else 0
            write_json(tmp / "state.json", {"format": FORMAT, "step": step,
                                            "optimizer_shards": shards, **state})
    if procs.is_main_process:
        for _, old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    procs.wait_for_everyone()
    return final


def load_checkpoint(folder: Path, module: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    rank: int = 0) -> tuple[dict[str, Any], bool]:
    """Restore weights, this process's RNG and (when given) an unsharded optimiser;
    returns (state, rng_restored). Call it before ``Accelerator.prepare`` and
    :func:`load_optimizer` after."""
    state = read_json(folder / "state.json")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {state.get('format')!r}, this "
                              f"xalign reads format {FORMAT}")
    load_trainable(module, folder)
    if optimizer is not None:
        load_optimizer(folder, optimizer)
    return state, rng_from_files(folder, rank)


def load_optimizer(folder: Path, optimizer: torch.optim.Optimizer,
                   procs: Processes | None = None) -> None:
    """Restore the optimiser state this process holds: its own shard when the checkpoint is
    sharded (same engine and number of processes required), else the whole state."""
    procs = procs or SingleProcess()
    shards = int(read_json(folder / "state.json").get("optimizer_shards", 0))
    world = getattr(procs, "num_processes", 1)
    if shards and (shards != world or not sharded_optimizer(procs)):
        engine = getattr(getattr(procs, "distributed_type", None), "value", "one process")
        raise CheckpointError(
            f"{folder}: the optimiser state is sharded over {shards} processes (FSDP or "
            f"DeepSpeed); this run has {world} ({engine}). Resume with the same engine and "
            "number of processes, or start a new run with projector.init_from")
    if not shards and sharded_optimizer(procs):
        raise CheckpointError(f"{folder}: the optimiser state is unsharded (one process or "
                              "DDP); this run shards it (FSDP or DeepSpeed): resume with the "
                              "engine that wrote it")
    optimizer_from_files(optimizer, folder,
                         f"optimizer-rank{procs.process_index}" if shards else "optimizer")
