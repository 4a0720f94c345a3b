"""A text-only instruction stage that teaches the embedded LLM to compare two described inputs.

SmolLM2-135M cannot answer "which of the two…" even from the true captions (it stays at
chance in every prompt format tried). This stage gives it the skill *without ever showing
it media*: LoRA adapters are trained on text built from captions of a split of the
synthetic world that no projector trains on and no evaluation reads, then merged into the
weights, and the LLM is frozen again. Projectors are trained on the merged LLM and record
its state (:func:`state_id`), so projectors of different LLM states are never composed.

Each training text has the layout DisCRn uses (DESIGN §4, :mod:`xalign.compose`): the fixed
instruction, then ``cue ‖ description`` per input, the question, the answer. The
description is placed where projected media tokens go, as the LLM's own embeddings of
the caption's words, so the LLM learns to compare the contents of the input slots.
Single-input questions (an attribute of one described input) are mixed in so that the
LLM keeps answering about one input in the formats the projectors train on.

The adapters ship as a small safetensors file (``weights/``); ``xalign llm text-stage``
reproduces it bit for bit (fixed seeds and data order, one thread).

This module trains and measures; the texts are :mod:`xalign.llm.stage_texts`, and loading
the shipped state (merge, name, check) is :mod:`xalign.llm.stage_state`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xalign.errors import XalignError
from xalign.llm.loaded import LoadedLLM
from xalign.llm.stage_state import FORMAT, SHIPPED, apply_adapters, check_state, state_id
from xalign.llm.stage_texts import (
    ANSWERS,
    TextExample,
    comparison_examples,
    comparison_texts,
    compose_text,
    single_examples,
    slot_embeddings,
)

__all__ = [  # the stage's whole surface, including what its two helper modules hold
    "ANSWERS", "FORMAT", "SHIPPED", "LoRALinear", "StageConfig", "TextExample", "add_lora",
    "answers", "apply_adapters", "check_state", "comparison_examples", "comparison_texts",
    "compose_text", "measure", "merge_lora", "save_adapters", "single_examples",
    "slot_embeddings", "stage_examples", "state_id", "train_stage",
]


@dataclass(frozen=True)
class StageConfig:
    """What the stage trains; written into the adapter file's metadata."""

    seed: int = 7             # the synthetic split's base seed (evaluation uses 0)
    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    rank: int = 8
    alpha: int = 16
    pairs_per_modality_pair: int = 400  # comparisons (balanced) per pair of modalities
    singles: int = 800  # one-input questions
    modalities: tuple[str, ...] = ()  # whose captions it reads; () = every installed one
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    # adapters in the top layers only: below them autograd builds no graph (3× cheaper steps)
    top_layers: int = 10
    # opt-in: what goes in an input slot while training is a caption's word embeddings, but
    # what goes there later is projected tokens, an unordered set of vectors. These shuffle
    # the slot's words and noise them (std ``slot_noise`` × the embeddings' RMS). Measured
    # with 0.5 and shuffling (README, "It reasons"): composed DisCRn stayed at chance and the
    # caption baseline fell to 58%, so the shipped stage uses neither
    slot_shuffle: bool = False
    slot_noise: float = 0.0


# -- LoRA on plain Linear layers (no peft needed to apply shipped adapters) -------------------
class LoRALinear(nn.Module):
    """``base(x) + scale · B(A(x))`` with ``base`` frozen; ``B`` starts at zero."""

    def __init__(self, base: nn.Linear, rank: int, alpha: int, generator: torch.Generator) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        nn.init.kaiming_uniform_(self.lora_a, a=5 ** 0.5, generator=generator)
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.lora_a.t() @ self.lora_b.t())

    def delta(self) -> torch.Tensor:
        return self.scale * (self.lora_b @ self.lora_a)


def add_lora(model: nn.Module, config: StageConfig) -> dict[str, LoRALinear]:
    """Wrap every target Linear of ``model`` in :class:`LoRALinear`; returns them by name."""
    generator = torch.Generator().manual_seed(config.seed)
    wrapped: dict[str, LoRALinear] = {}
    layers = model.model.layers if hasattr(model, "model") else model.layers
    top = {id(m) for layer in list(layers)[-config.top_layers:] for m in layer.modules()}
    for name, module in list(model.named_modules()):
        if id(module) not in top:
            continue
        for child_name, child in list(module.named_children()):
            if child_name in config.target_modules and isinstance(child, nn.Linear):
                lora = LoRALinear(child, config.rank, config.alpha, generator)
                setattr(module, child_name, lora)
                wrapped[f"{name}.{child_name}" if name else child_name] = lora
    if not wrapped:
        raise XalignError(f"no Linear layer named {list(config.target_modules)} in the LLM")
    return wrapped


def merge_lora(model: nn.Module, wrapped: dict[str, LoRALinear]) -> None:
    """Fold each adapter into its base weight and put the plain Linear back."""
    for name, lora in wrapped.items():
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        with torch.no_grad():
            lora.base.weight += lora.delta().to(lora.base.weight.dtype)
        setattr(parent, child_name, lora.base)


def adapter_tensors(wrapped: dict[str, LoRALinear]) -> dict[str, torch.Tensor]:
    out = {}
    for name, lora in wrapped.items():
        out[f"{name}.lora_a"] = lora.lora_a.detach().float().contiguous()
        out[f"{name}.lora_b"] = lora.lora_b.detach().float().contiguous()
    return out


def save_adapters(path: Path, wrapped: dict[str, LoRALinear], config: StageConfig,
                  base_llm_id: str, metrics: dict[str, Any]) -> Path:
    """Write the adapters and their provenance (atomic: a crash leaves no half file)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    # one metadata key: safetensors may write several in any order, and the file must
    # come out byte for byte the same from the same command
    metadata = {"xalign_text_stage": json.dumps({
        "format": FORMAT, "base_llm_id": base_llm_id, "config": asdict(config),
        "metrics": metrics}, sort_keys=True)}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(adapter_tensors(wrapped), str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


@functools.cache  # the texts depend on the config alone; building them synthesises media
def stage_examples(config: StageConfig) -> list[TextExample]:
    """The stage's training texts: ``pairs_per_modality_pair`` comparisons per pair of
    installed modalities and ``singles`` one-input questions, shuffled."""
    examples = comparison_examples(config.seed, config.pairs_per_modality_pair,
                                   config.modalities)
    examples += single_examples(config.seed, config.singles, config.modalities)
    random.Random(config.seed).shuffle(examples)
    return examples


def slot_perturbation(config: StageConfig, rms: float
                      ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The training-time change of a slot's embeddings (:attr:`StageConfig.slot_shuffle`,
    :attr:`StageConfig.slot_noise`), seeded from the stage's seed; ``None`` when neither."""
    if not config.slot_shuffle and not config.slot_noise:
        return None
    generator = torch.Generator().manual_seed(config.seed + 1)

    def perturb(slot: torch.Tensor) -> torch.Tensor:
        if config.slot_shuffle:
            slot = slot[torch.randperm(slot.shape[0], generator=generator)]
        if config.slot_noise:
            noise = torch.randn(slot.shape, generator=generator) * (config.slot_noise * rms)
            slot = slot + noise.to(slot.dtype)
        return slot
    return perturb


def batches(examples: Sequence[TextExample], batch_size: int) -> Iterator[list[TextExample]]:
    while True:
        for start in range(0, len(examples) - batch_size + 1, batch_size):
            yield list(examples[start:start + batch_size])


@torch.no_grad()
def answers(loaded: LoadedLLM, examples: Sequence[TextExample], batch_size: int = 16,
            max_new_tokens: int = 8) -> list[str]:
    """Greedy answers of ``loaded`` to text examples (composed as in training)."""
    from xalign.compose import Composer
    from xalign.generation import generate_from_embeds

    composer = Composer(loaded.tokenizer, system_prompt="")
    out: list[str] = []
    for start in range(0, len(examples), batch_size):
        composed = compose_text(composer, loaded.embeddings, examples[start:start + batch_size],
                                with_targets=False, padding_side="left")
        out += generate_from_embeds(loaded.model, loaded.tokenizer, composed.inputs_embeds,
                                    composed.attention_mask,
                                    eos_token_ids=composer.end_token_ids,
                                    pad_token_id=composer.pad_token_id, preset="greedy",
                                    max_new_tokens=max_new_tokens)
    return out


def measure(loaded: LoadedLLM, per_pair: int = 16, seed: int = 0,
            modalities: Sequence[str] = ()) -> dict[str, float]:
    """Text-only comparison accuracy from the true captions of held-out DisCRn entities (the
    evaluation split, ``seed`` 0), in both layouts, scored by the DisCRn answer matcher:
    ``comparison_<layout>`` over all questions and ``comparison_<layout>_<kind>`` per kind."""
    from xalign.eval.discrn.score import score, summarize
    from xalign.eval.discrn.synth import default_pairs, synthetic_discrn
    from xalign.registry import get_registry

    names = list(modalities) or get_registry().names()
    # the records the shipped stage was measured on (its file records the numbers, so the
    # stage rebuilds bit for bit): answer positions balanced, modalities not
    records = synthetic_discrn(default_pairs(names), per_pair=per_pair, seed=seed,
                               balance_modalities=False)
    out = {}
    for layout in ("slots", "inline"):
        said = answers(loaded, comparison_texts(records, layout))
        summary = summarize(score(records, {r.id: a for r, a in zip(records, said, strict=True)}))
        out[f"comparison_{layout}"] = summary["accuracy"]
        out.update({f"comparison_{layout}_{kind}": group["accuracy"]
                    for kind, group in summary.get("by_kind", {}).items()})
    return out


def train_stage(loaded: LoadedLLM, config: StageConfig, out: Path,
                metrics_of: Callable[[LoadedLLM], dict[str, float]] | None = None,
                log: Callable[[str], None] = print,
                autocast: Callable[[], Any] = contextlib.nullcontext) -> Path:
    """Train the adapters on ``loaded``, merge them into it, and save them to ``out``.

    ``metrics_of`` (e.g. :func:`measure`) is recorded before and after in the file;
    ``autocast`` is the precision context of each forward pass."""
    from xalign.compose import Composer

    torch.manual_seed(config.seed)
    metrics = {"before": metrics_of(loaded)} if metrics_of else {}
    if metrics_of:
        log(f"text-only comparison before the stage: {metrics['before']}")
    model = loaded.model
    base_llm_id = loaded.llm_id
    wrapped = add_lora(model, config)
    params = [p for lora in wrapped.values() for p in (lora.lora_a, lora.lora_b)]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / config.steps))
    composer = Composer(loaded.tokenizer, system_prompt="")
    examples = list(stage_examples(config))
    log(f"text stage: {len(examples)} examples, {config.steps} steps of {config.batch_size}")
    model.train()
    stream = batches(examples, config.batch_size)
    rms = float(loaded.embeddings.weight.detach().float().pow(2).mean().sqrt())
    perturb = slot_perturbation(config, rms)
    for step in range(config.steps):
        composed = compose_text(composer, loaded.embeddings, next(stream), with_targets=True,
                                perturb=perturb)
        with autocast():
            loss = model(inputs_embeds=composed.inputs_embeds,
                         attention_mask=composed.attention_mask, labels=composed.labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 25 == 0 or step == config.steps - 1:
            log(f"text stage step {step + 1}/{config.steps} loss {loss.item():.4f}")
    model.eval()
    if metrics_of:
        metrics["after"] = metrics_of(loaded)
        log(f"text-only comparison after the stage: {metrics['after']}")
    path = save_adapters(out, wrapped, config, base_llm_id, metrics)
    merge_lora(model, wrapped)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    loaded.llm_id = state_id(base_llm_id, path)
    return path
