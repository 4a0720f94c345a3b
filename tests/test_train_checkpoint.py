"""Checkpoints: atomic folders, keep-last-N, bitwise optimiser/RNG round trips, no pickle."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from xalign.errors import CheckpointError
from xalign.train.checkpoint import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_from_files,
    rng_to_files,
    save_checkpoint,
)


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    module[1].weight.requires_grad_(False)  # a frozen tensor is not saved
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-2)
    return module, optimizer


def _train(module, optimizer, steps: int, seed: int) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = torch.randn(5, 4, generator=generator)
        loss = module(x).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test_resume_from_checkpoint_is_bitwise_identical(tmp_path):
    module, optimizer = _setup()
    _train(module, optimizer, 3, seed=1)
    save_checkpoint(tmp_path, 3, module, optimizer, {"data": {"epoch": 0, "batch": 3}})
    expected = _train(module, optimizer, 4, seed=2)

    other, other_opt = _setup(seed=99)  # different initial weights
    state, rng_ok = load_checkpoint(find_checkpoint(tmp_path), other, other_opt)
    assert rng_ok and state["step"] == 3 and state["data"] == {"epoch": 0, "batch": 3}
    assert _train(other, other_opt, 4, seed=2) == expected
    for a, b in zip(module.parameters(), other.parameters(), strict=True):
        if a.requires_grad:
            assert torch.equal(a, b)


def test_files_are_safetensors_and_json_only(tmp_path):
    module, optimizer = _setup()
    _train(module, optimizer, 1, seed=0)
    folder = save_checkpoint(tmp_path, 1, module, optimizer, {})
    suffixes = {p.suffix for p in folder.iterdir()}
    assert suffixes == {".safetensors", ".json"}
    assert not list(tmp_path.rglob("*.tmp"))


def test_keep_last_and_interrupted_save(tmp_path):
    module, optimizer = _setup()
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, module, optimizer, {}, keep_last=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]

    class Crash(Exception):
        pass

    def boom(*_args, **_kwargs):
        raise Crash

    import xalign.train.checkpoint as ck

    original = ck.optimizer_to_files
    ck.optimizer_to_files = boom  # dies halfway through writing step 5
    try:
        with pytest.raises(Crash):
            save_checkpoint(tmp_path, 5, module, optimizer, {}, keep_last=2)
    finally:
        ck.optimizer_to_files = original
    assert find_checkpoint(tmp_path).name == "step-000004"  # the half-written one is ignored
    assert (tmp_path / "checkpoints" / ".step-000005.tmp").exists()
    save_checkpoint(tmp_path, 5, module, optimizer, {}, keep_last=2)  # a later save cleans up
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4, 5]
    assert not (tmp_path / "checkpoints" / ".step-000005.tmp").exists()


def test_rng_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.random()
    np.random.normal()  # leaves a cached gaussian in numpy's state
    rng_to_files(tmp_path, rank=0)
    expected = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    assert rng_from_files(tmp_path, rank=0)
    got = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])
    assert not rng_from_files(tmp_path, rank=1)


def test_mismatched_or_missing_checkpoints_fail_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        find_checkpoint(tmp_path)
    module, optimizer = _setup()
    folder = save_checkpoint(tmp_path, 1, module, optimizer, {})
    other = nn.Linear(3, 3)
    with pytest.raises(CheckpointError, match="trainable parameters differ"):
        load_checkpoint(folder, other, torch.optim.AdamW(other.parameters()))
    (folder / "trainable.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(folder, module, optimizer)
