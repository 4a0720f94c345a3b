"""Training: recipes (pydantic + YAML), the accelerate engine, schedule, checkpoints, evaluation.

Typical use::

    from xalign.train import load_recipe, train_recipe
    result = train_recipe(load_recipe("recipes/tiny-audio.yaml", ["optim.lr=5e-4"]))

See docs/training.md.
"""

from xalign.train.defaults import default_recipe, find_recipe, tiny_recipe
from xalign.train.recipe import Recipe
from xalign.train.recipe_io import RecipeError, dump_recipe, load_recipe, recipe_from_dict
from xalign.train.schedule import WarmupCosine, effective_warmup, lr_at

__all__ = [
    "Recipe",
    "RecipeError",
    "WarmupCosine",
    "default_recipe",
    "dump_recipe",
    "effective_warmup",
    "evaluate_run",
    "find_recipe",
    "load_recipe",
    "lr_at",
    "recipe_from_dict",
    "tiny_recipe",
    "train_recipe",
]


def __getattr__(name: str):  # the engine pulls in torch/accelerate: import it on first use
    if name in ("train_recipe", "evaluate_run"):
        from xalign.train import run

        return getattr(run, name)
    raise AttributeError(name)
