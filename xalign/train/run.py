"""Run a recipe end to end, and evaluate a finished run on held-out synthetic items."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xalign.errors import CheckpointError
from xalign.train.engine import RunResult, Trainer
from xalign.train.evaluate import RankingResult, ranking_accuracy
from xalign.train.launch import seed_everything
from xalign.train.recipe import Recipe
from xalign.train.recipe_io import load_recipe


def default_run_dir(recipe: Recipe, root: Path = Path("runs")) -> Path:
    """``recipe.output_dir`` or ``runs/<modality>-<YYYYmmdd-HHMMSS>``."""
    if recipe.output_dir:
        return Path(recipe.output_dir)
    return root / f"{recipe.modality}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_recipe(recipe: Recipe, run_dir: Path | None = None, *, resume: Path | None = None,
                 console: Any = None, show_progress: bool = True, llm: Any = None,
                 accelerator: Any = None, on_step: Callable[[int], None] | None = None
                 ) -> RunResult:
    """Build everything the recipe names and train it; ``resume`` continues a run.

    With ``resume`` and no ``run_dir``, the run continues in the resumed run's folder.
    ``llm`` lets several runs in one process share a loaded LLM; ``on_step`` is called
    after every training step with its number.
    """
    from xalign.train.build import build_components

    started = time.perf_counter()  # the model card's wall time covers loading too
    if run_dir is None:
        if resume is not None:
            resume = Path(resume)
            run_dir = resume.parent.parent if (resume / "state.json").is_file() else resume
        else:
            run_dir = _agreed(default_run_dir(recipe))
    from xalign.media import check_plugin_environment
    check_plugin_environment(recipe.modality)  # a missing library stops the run before any data
    seed_everything(recipe.seed)  # projector initialisation is identical on every process
    parts = build_components(recipe, llm=llm)
    trainer = Trainer(recipe, parts.model, parts.train_set, Path(run_dir),
                      val_set=parts.val_set, test_set=parts.test_set, accelerator=accelerator,
                      console=console, show_progress=show_progress, started=started,
                      on_step=on_step)
    return trainer.fit(resume=resume)


def _agreed(path: Path) -> Path:
    """The main process's choice of ``path`` on every process (timestamps may differ)."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState(cpu=not torch.cuda.is_available())
    if state.num_processes == 1:
        return path
    shared = broadcast_object_list([str(path)])
    return Path(shared[0])


def evaluate_run(run_dir: Path, split: str = "test", size: int | None = None,
                 which: str = "projector", llm: Any = None) -> RankingResult:
    """Ranking accuracy of a finished run's projector on synthetic ``split`` items.

    Rebuilds the encoder and LLM from the run's ``recipe.yaml``; ``which`` is
    ``projector`` (final) or ``best`` (best validation).
    """
    model, dataset = load_run(run_dir, split, size, which, llm)
    return ranking_accuracy(model, dataset)


def load_run(run_dir: Path, split: str = "test", size: int | None = None,
             which: str = "projector", llm: Any = None) -> tuple[Any, Any]:
    """``(model, dataset)``: a finished run's model and its held-out ``split`` items, as
    :func:`evaluate_run` scores them."""
    from xalign.model import XAlignModel
    from xalign.projectors import load_projector
    from xalign.registry import get_modality
    from xalign.train.build import build_encoder, build_llm, eval_set, feature_cache

    run_dir = Path(run_dir)
    if not (run_dir / "recipe.yaml").is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no recipe.yaml)")
    if not (run_dir / which / "config.json").is_file():
        raise CheckpointError(f"{run_dir / which}: no trained projector there (is the run "
                              "finished? `--resume` it first)")
    recipe = load_recipe(run_dir / "recipe.yaml")
    modality = get_modality(recipe.modality)
    encoder = build_encoder(modality, recipe)
    llm = llm if llm is not None else build_llm(recipe)
    projector = load_projector(run_dir / which, llm_dim=llm.hidden_size,
                               feature_dim=encoder.feature_dim)
    model = XAlignModel(llm, {recipe.modality: projector}, use_cue=recipe.use_cue,
                        system_prompt=recipe.llm.system_prompt)
    count = size or (recipe.eval.test_size if split == "test" else recipe.eval.val_size) or 100
    dataset = eval_set(recipe, modality, encoder, split, count, feature_cache(recipe, encoder))
    assert dataset is not None
    return model, dataset


def latest_run(modality: str, root: Path = Path("runs")) -> Path | None:
    """The most recent ``runs/<modality>-*`` folder."""
    found = sorted(root.glob(f"{modality}-*"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def run_from_file(path: Path, overrides: list[str] = (), **kwargs: Any) -> RunResult:
    """Convenience: load a recipe file and train it."""
    return train_recipe(load_recipe(path, overrides), **kwargs)
