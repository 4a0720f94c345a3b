"""The embedded default recipes, and where ``xalign train`` looks for recipes by name.

``recipes/tiny-<modality>.yaml`` in the repository are these same dictionaries written as
YAML (a test keeps the two identical); the code copy lets a wheel-installed xalign train
``--modality audio`` with no recipe file around, and gives any third-party modality a
sensible tiny default too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from xalign.train.recipe import Recipe
from xalign.train.recipe_io import load_recipe, merge, recipe_from_dict

# The embedded default, one recipe for every modality (recipes/tiny-base.yaml). Why these
# values (README, "It learns" and "It reasons"):
# - SmolLM2-135M after its shipped text-only comparison stage ("smollm2-compare",
#   xalign/llm/text_stage.py): LoRA merged and frozen, trained on comparisons written from
#   captions of a split nothing else reads; from held-out true captions it answers 97% of
#   DisCRn questions against 20-30% before (README, "It reasons"); "smollm2" is the LLM as
#   it ships;
# - the plugin's default encoder: pretrained on the synthetic world with one generic
#   contrastive objective (xalign/encoders/pretrain.py), nothing designed for an attribute;
# - the instruction-aware Q-Former (X-InstructBLIP), 8 tokens per frame, instruction word
#   embeddings borrowed from the LLM and frozen; its output head is the paper's linear one,
#   each token rescaled to the LLM's word norm ("normed"; docs/training.md);
# - the caption teacher (xalign/train/teacher.py), weight 30: the LLM reads the projected
#   tokens as it reads the item's caption; single inputs only, never comparisons;
# - half the training examples' Q-Former reads DisCRn's generic prompt ("a short
#   description") instead of their instruction; the projector stays instruction-aware
#   (it reads the instruction at inference). With the teacher at 30 this is what lifted the
#   six DisCRn pairs from 76.7% to 81.3% (README, "It reasons");
# - an instruction mix (captioning, open QA, closed classification, several phrasings each):
#   one question format would take over the LLM's answer format;
# - precision "auto" (bf16 only on CPUs with native bf16, xalign/train/precision.py) and an
#   empty system turn (SmolLM2's default one is 20 tokens of every example).
TINY_BASE: dict[str, Any] = {
    "description": "Embedded offline default: SmolLM2-135M (frozen) + the plugin's default "
                   "tiny encoder (frozen) + an instruction-aware Q-Former, trained on "
                   "captioning, QA and classification of the synthetic world.",
    "llm": {"source": "smollm2-compare", "system_prompt": ""},
    "encoder": {"source": None},
    "projector": {"kind": "qformer", "preset": "tiny", "num_tokens": 8, "head": "normed",
                  "instruction_embeddings": "llm",
                  "qformer_prompt": "a short description", "qformer_prompt_share": 0.5},
    "data": {"sources": [{"kind": "synthetic", "size": 960,
                          "tasks": ["caption", "qa", "classify"]}]},
    "optim": {"lr": 2e-3, "warmup_steps": 1000, "weight_decay": 0.05},
    "schedule": {"max_steps": 200, "batch_size": 8, "grad_accum": 1, "clip_grad_norm": 1.0,
                 "log_every": 10},
    "cache": {"enabled": True, "train_views": 1},
    "checkpoint": {"every": 80, "keep_last": 1},
    "eval": {"every": 0, "val_size": 32, "test_size": 100, "max_chance": 0.25},
    "loss": {"caption_teacher": 30.0},
    "mixed_precision": "auto",
    "seed": 0,
}


# Where one modality differs from the shared default (README, "It learns"). Audio's
# headline, count (chance 25%), is the last of its attributes to be learnt: 77-79% after
# 200 steps in four runs, 81% after 240. Image, on its pretrained encoder, reads 90% after
# 160 steps (count 96%, shape 88%); trained to 400 (97%) its tokens take over composed
# answers: DisCRn's three image pairs fell from 83 / 68 / 79% to 51 / 69 / 52%.
TINY_PER_MODALITY: dict[str, dict[str, Any]] = {"audio": {"schedule": {"max_steps": 240}},
                                                "image": {"schedule": {"max_steps": 160}}}


def tiny_recipe_dict(modality: str) -> dict[str, Any]:
    """The tiny recipe of ``modality`` as a mapping (any modality name works; a fresh copy)."""
    return {"name": f"tiny-{modality}", "modality": modality,
            **merge(copy.deepcopy(TINY_BASE), TINY_PER_MODALITY.get(modality, {}))}


def tiny_recipe(modality: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """The embedded default recipe of ``modality`` (validated), with ``key=value`` overrides."""
    return recipe_from_dict(tiny_recipe_dict(modality), origin=f"built-in tiny-{modality}",
                            overrides=overrides)


def recipe_dirs() -> list[Path]:
    """Where recipes are looked up by name: ./recipes, then the source checkout's recipes/."""
    here = Path.cwd() / "recipes"
    checkout = Path(__file__).resolve().parents[2] / "recipes"
    return [d for d in dict.fromkeys([here, checkout]) if d.is_dir()]


def find_recipe(name: str) -> Path | None:
    """A recipe file by path, or by name (``tiny-audio`` -> ``recipes/tiny-audio.yaml``)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    for directory in recipe_dirs():
        for candidate in (directory / name, directory / f"{name}.yaml"):
            if candidate.is_file():
                return candidate
    return None


def default_recipe(modality: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """``recipes/tiny-<modality>.yaml`` when present, else the built-in equivalent."""
    found = find_recipe(f"tiny-{modality}")
    if found is not None:
        return load_recipe(found, overrides)
    return tiny_recipe(modality, overrides)
