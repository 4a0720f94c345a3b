"""The learning-rate curve of DESIGN §3: linear warm-up from 1e-8, cosine to 0."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch

from xalign.train.schedule import WarmupCosine, effective_warmup, lr_at


def test_paper_curve_values():
    peak, total, warm = 1e-5, 65000, 1000
    assert lr_at(0, peak, total, warm) == pytest.approx(1e-8, rel=1e-12)
    assert lr_at(500, peak, total, warm) == pytest.approx(1e-8 + (1e-5 - 1e-8) / 2, rel=1e-12)
    assert lr_at(999, peak, total, warm) == pytest.approx(1e-8 + (1e-5 - 1e-8) * 0.999)
    assert lr_at(1000, peak, total, warm) == pytest.approx(peak, rel=1e-12)
    middle = warm + (total - warm) // 2
    assert lr_at(middle, peak, total, warm) == pytest.approx(peak / 2, rel=1e-9)
    quarter = warm + (total - warm) // 4
    assert lr_at(quarter, peak, total, warm) == pytest.approx(
        peak * 0.5 * (1 + math.cos(math.pi / 4)), rel=1e-9)
    assert lr_at(total, peak, total, warm) == pytest.approx(0.0, abs=1e-20)
    assert lr_at(total + 10, peak, total, warm) == pytest.approx(0.0, abs=1e-20)


def test_curve_is_monotone_up_then_down():
    values = [lr_at(s, 1e-3, 200, 20) for s in range(201)]
    assert all(a < b for a, b in pairwise(values[:21]))
    assert all(a >= b for a, b in pairwise(values[20:]))
    assert max(values) == pytest.approx(1e-3)


def test_warmup_scales_for_tiny_runs():
    assert effective_warmup(1000, 65000) == 1000  # paper length kept
    assert effective_warmup(1000, 120) == 12  # capped at 10% of a tiny run
    assert effective_warmup(1000, 5) == 1
    assert effective_warmup(0, 100) == 0
    assert effective_warmup(1000, 1000, max_fraction=0.03) == 30  # LLaVA-style 3%


def test_scheduler_drives_param_groups_and_round_trips():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 2e-5}])
    sched = WarmupCosine(opt, max_steps=100, warmup_steps=1000)  # warm-up -> 10 steps
    assert sched.warmup == 10
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-8, 1e-8])
    for _ in range(10):
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3, 2e-5])
    state = sched.state_dict()
    other = WarmupCosine(opt, max_steps=100, warmup_steps=1000)
    other.load_state_dict(state)
    assert other.get_last_lr() == sched.get_last_lr()
    for _ in range(90):
        sched.step()
    assert sched.get_last_lr() == pytest.approx([0.0, 0.0], abs=1e-15)
