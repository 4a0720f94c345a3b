"""Learning-rate schedule of DESIGN §3: linear warm-up from 1e-8, then cosine decay to ``min_lr``.

``lr(step)`` for optimiser step ``step`` (0-based, the lr used *by* that step):

* ``step < W``: ``start + (peak - start) * step / W`` (so step 0 uses 1e-8);
* ``W <= step <= S``: ``min_lr + (peak - min_lr) * (1 + cos(pi * (step - W) / (S - W))) / 2``,
  reaching ``peak`` at ``W`` and ``min_lr`` (0) at ``S = max_steps``.

``W`` is :func:`effective_warmup`: ``min(warmup_steps, ceil(max_warmup_fraction * S))``, so
tiny runs warm up over at most 10% of their steps while the paper's 65k-step runs keep
their 1,000.
"""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer


def effective_warmup(warmup_steps: int, max_steps: int, max_fraction: float = 0.1) -> int:
    """Warm-up length actually used: the recipe's, capped at ``max_fraction`` of the run."""
    return max(0, min(int(warmup_steps), math.ceil(max_fraction * max_steps)))


def lr_at(step: int, peak: float, max_steps: int, warmup: int, start: float = 1e-8,
          min_lr: float = 0.0) -> float:
    """The learning rate of optimiser step ``step`` (see the module docstring)."""
    if warmup > 0 and step < warmup:
        return start + (peak - start) * step / warmup
    span = max(1, max_steps - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosine:
    """Sets each param group's ``lr`` from its ``peak_lr`` for the current step.

    Its state is one integer (JSON in checkpoints); param groups carry ``peak_lr`` so the
    LLM (when tuned) and the projector can peak at different rates on the same curve.
    """

    def __init__(self, optimizer: Optimizer, max_steps: int, warmup_steps: int,
                 start_lr: float = 1e-8, min_lr: float = 0.0, max_fraction: float = 0.1) -> None:
        self.optimizer = optimizer
        self.max_steps = int(max_steps)
        self.warmup = effective_warmup(warmup_steps, max_steps, max_fraction)
        self.start_lr, self.min_lr = float(start_lr), float(min_lr)
        self.step_count = 0
        for group in optimizer.param_groups:
            group.setdefault("peak_lr", group["lr"])
        self._apply()

    def lr_for(self, peak: float, step: int | None = None) -> float:
        step = self.step_count if step is None else step
        return lr_at(step, peak, self.max_steps, self.warmup, min(self.start_lr, peak),
                     self.min_lr)

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_for(group["peak_lr"])

    def step(self) -> None:
        """Advance to the next optimiser step."""
        self.step_count += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "max_steps": self.max_steps,
                "warmup": self.warmup}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self._apply()
