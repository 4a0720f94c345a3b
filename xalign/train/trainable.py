"""What trains in a run: the trainable parts as one module, its loss, the checks that exactly
the intended parameters train, and their optimiser groups (used by :mod:`xalign.train.engine`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from xalign.errors import XalignError
from xalign.train.recipe import Recipe
from xalign.train.teacher import CaptionTeacher


class TrainError(XalignError):
    """Training stopped on purpose: too much bad data, a NaN loss, a frozen part trainable…"""


class TrainModule(nn.Module):
    """The trainable parts as submodules; ``forward(examples)`` is the model's loss.

    The model itself is held outside the module tree so that wrapping this module (DDP,
    FSDP) touches the projectors (and a tuned LLM) only.
    """

    def __init__(self, model: Any, tune_llm: bool = False, caption_teacher: float = 0.0
                 ) -> None:
        super().__init__()
        self.projectors = nn.ModuleDict(dict(model.projectors))
        if tune_llm:
            self.llm = model.llm.model
        object.__setattr__(self, "model", model)
        self.teacher = CaptionTeacher(model, caption_teacher) if caption_teacher else None
        self.parts: dict[str, float] = {}  # the loss's parts in the last call (for the logs)

    def forward(self, examples: list[Any]) -> torch.Tensor:
        if not examples:  # every item of this micro-batch was skipped: a zero that syncs
            params = [p for p in self.parameters() if p.requires_grad]
            return sum((p.sum() * 0.0 for p in params), torch.zeros((), device=params[0].device))
        if self.teacher is None:
            return self.model.loss(examples)
        loss = self.teacher.loss(examples)
        self.parts = {"nll": loss.nll, "match": loss.match}
        return loss.total


def check_trainable(model: Any, module: TrainModule, tune_llm: bool) -> int:
    """Assert that exactly the intended parameters train; returns their count."""
    fixed = {f"{name}.{key}" for name, projector in module.projectors.items()
             for key in projector.frozen_by_design()}
    projector_params = [(n, p) for n, p in module.projectors.named_parameters() if n not in fixed]
    if not projector_params or not all(p.requires_grad for _, p in projector_params):
        raise TrainError("every projector parameter must be trainable")
    llm_trainable = [n for n, p in model.llm.model.named_parameters() if p.requires_grad]
    if llm_trainable and not tune_llm:
        raise TrainError(f"the LLM must be frozen (llm.tune: frozen) but {len(llm_trainable)} "
                         f"of its tensors require grad, e.g. {llm_trainable[0]}")
    if tune_llm and not llm_trainable:
        raise TrainError("llm.tune asks to train the LLM but none of its parameters trains")
    inside = {id(p) for p in module.parameters()}
    stray = [p for p in model.trainable_parameters() if id(p) not in inside]
    if stray:
        raise TrainError(f"{len(stray)} trainable tensors are outside the projectors")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_captions(train_set: Any) -> None:
    """The caption teacher needs a caption per input: say so before any step, not at one."""
    item = train_set.item(0) if hasattr(train_set, "item") and len(train_set) else None
    if item is not None and len(item.captions) != len(item.media):
        raise TrainError(f"loss.caption_teacher needs a caption for each input, but item "
                         f"{item.id!r} has none: add \"captions\" to the manifest lines "
                         "(docs/data.md) or set loss.caption_teacher=0")


def param_groups(module: TrainModule, recipe: Recipe) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and norms (tensors of rank < 2), LLM at llm.lr."""
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, param in module.named_parameters():
        if param.requires_grad:
            part = "llm" if name.startswith("llm.") else "projector"
            groups.setdefault((part, param.ndim >= 2), []).append(param)
    out = []
    for (part, decay), params in sorted(groups.items()):
        peak = recipe.llm.lr if part == "llm" and recipe.llm.lr else recipe.optim.lr
        out.append({"params": params, "lr": peak, "peak_lr": peak, "name": part,
                    "weight_decay": recipe.optim.weight_decay if decay else 0.0})
    return out


def replica_digests(module: nn.Module, acc: Any) -> list[str]:
    """A digest of ``module``'s trainable weights from every process of the run (DDP keeps
    them identical, so a run's replicas must all show the same one)."""
    import hashlib

    h = hashlib.sha256()
    for _, p in sorted(module.named_parameters()):
        if p.requires_grad:
            h.update(p.detach().float().cpu().numpy().tobytes())
    if acc.num_processes == 1:
        return [h.hexdigest()[:16]]
    from accelerate.utils import gather_object

    return list(gather_object([h.hexdigest()[:16]]))
