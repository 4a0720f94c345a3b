"""The embedded default recipes, and where ``xalign train`` looks for recipes by name.

``recipes/tiny-<modality>.yaml`` in the repository are these same dictionaries written as
YAML (a test keeps the two identical); the code copy lets a wheel-installed xalign train
``--modality audio`` with no recipe file around, and gives any third-party modality a
sensible tiny default too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xalign.train.recipe import Recipe
from xalign.train.recipe_io import load_recipe, merge, recipe_from_dict

# Shared by the four tiny recipes (recipes/tiny-base.yaml). Measured choices (README,
# "It learns"): a linear projector at lr 1e-2 learns within the demo's budget where the tiny
# Q-Former does not yet; precision "auto" (bf16 autocast only on CPUs with native bf16,
# fp32 elsewhere: xalign/train/precision.py); an empty system turn saves 20 tokens per
# example; classification items (options in the instruction) of the attributes the demo
# tests.
TINY_BASE: dict[str, Any] = {
    "description": "Embedded offline default: SmolLM2-135M (frozen) + the plugin's tiny seeded "
                   "encoder (not pretrained) + a linear projector, trained on the synthetic "
                   "world.",
    "llm": {"source": "smollm2", "system_prompt": ""},
    "encoder": {"source": None},
    "projector": {"kind": "linear", "preset": "tiny", "num_tokens": 4},
    "data": {"sources": [{"kind": "synthetic", "size": 480, "tasks": ["classify"]}]},
    "optim": {"lr": 1e-2, "warmup_steps": 1000, "weight_decay": 0.05},
    "schedule": {"max_steps": 200, "batch_size": 8, "grad_accum": 1, "clip_grad_norm": 1.0,
                 "log_every": 10},
    "cache": {"enabled": True, "train_views": 1},
    "checkpoint": {"every": 80, "keep_last": 1},
    "eval": {"every": 0, "val_size": 32, "test_size": 100, "max_chance": 0.25},
    "mixed_precision": "auto",
    "seed": 0,
}


def _train_on(*attributes: str) -> dict[str, Any]:
    """The base recipe's synthetic source, on the classification items of ``attributes``."""
    (source,) = TINY_BASE["data"]["sources"]
    tasks = [f"classify:{a}" for a in attributes]
    return {"data": {"sources": [{**source, "tasks": tasks}]}}


# What differs per modality (recipes/tiny-<modality>.yaml): the attributes trained on, those
# whose chance is <= 25% (what the demo's held-out table asks).
TINY_VARIANTS: dict[str, dict[str, Any]] = {
    "image": _train_on("colour", "position"),
    "video": _train_on("direction", "colour"),
    "audio": _train_on("count"),
    "3d": _train_on("shape"),
}


def tiny_recipe_dict(modality: str) -> dict[str, Any]:
    """The tiny recipe of ``modality`` as a mapping (any modality name works)."""
    data = merge(TINY_BASE, TINY_VARIANTS.get(modality, {}))
    return {"name": f"tiny-{modality}", "modality": modality, **data}


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
