"""``xalign train``: train a projector from a recipe (or the embedded default of a modality)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from xalign.errors import XalignError

console = Console()


def _resolve(recipe_name: str | None, modality: str | None, resume_dir: Path | None,
             overrides: list[str]):
    from xalign.train.defaults import default_recipe, find_recipe, recipe_dirs
    from xalign.train.recipe_io import load_recipe

    if modality and recipe_name:
        overrides = [f"modality={modality}", *overrides]
    if recipe_name:
        path = find_recipe(recipe_name)
        if path is None:
            known = sorted({p.stem for d in recipe_dirs() for p in d.glob("*.yaml")})
            from xalign.errors import UnknownNameError

            raise UnknownNameError("recipe", recipe_name, known,
                                   hint="pass a path to a .yaml file or a name from recipes/")
        return load_recipe(path, overrides)
    if resume_dir is not None and (resume_dir / "recipe.yaml").is_file():
        return load_recipe(resume_dir / "recipe.yaml", overrides)
    if modality:
        return default_recipe(modality, overrides)
    raise XalignError("say what to train: --modality NAME (the embedded default) or "
                      "--recipe FILE; see `xalign train --help`")


def _resume_target(resume: str | None, modality: str | None, overrides: list[str]
                   ) -> tuple[Path | None, list[str]]:
    """``--resume`` value -> run/checkpoint folder. ``--resume`` alone means the latest run."""
    if resume is None:
        return None, overrides
    from xalign.train.run import latest_run

    if "=" in resume and not Path(resume).exists():  # `--resume key=value`: an override
        overrides, resume = [resume, *overrides], "latest"
    if resume != "latest":
        return Path(resume), overrides
    if not modality:
        raise XalignError("--resume without a folder needs --modality to find the latest run "
                          "(runs/<modality>-*); or pass the folder: --resume runs/audio-…")
    found = latest_run(modality)
    if found is None:
        raise XalignError(f"no run of {modality!r} under runs/ to resume")
    return found, overrides


def _print_ranking(title: str, result) -> None:
    table = Table(title=title)
    for column in ("attribute", "accuracy", "chance", "items"):
        table.add_column(column, justify="right" if column != "attribute" else "left")
    for name, stats in result.per_attribute.items():
        aside = "" if stats.get("headline", True) else " [dim](not in headline)[/]"
        table.add_row(name + aside, f"{stats['accuracy']:.1%}", f"{stats['chance']:.1%}",
                      str(stats["n"]))
    limit = getattr(result, "max_chance", None)
    table.add_row("[bold]all" if limit is None else f"[bold]headline (chance <= {limit:.0%})",
                  f"[bold]{result.accuracy:.1%}", f"{result.chance:.1%}", str(result.n))
    console.print(table)


def train(
    overrides: list[str] = typer.Argument(
        None, help="Recipe overrides as key=value, e.g. optim.lr=1e-4 schedule.max_steps=50."),
    modality: str = typer.Option(
        None, "--modality", "-m", help="Train this modality's embedded default "
        "(recipes/tiny-<modality>.yaml or its built-in copy)."),
    recipe: str = typer.Option(None, "--recipe", "-r",
                               help="Recipe file, or a name from recipes/ (e.g. tiny-audio)."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Run folder (default: runs/<modality>-<timestamp>)."),
    resume: str = typer.Option(
        None, "--resume", is_flag=False, flag_value="latest", metavar="[DIR]",
        help="Continue a run from its latest checkpoint (a run or checkpoint folder; alone: "
             "the latest run of --modality)."),
    eval_only: bool = typer.Option(
        False, "--eval-only", help="Only evaluate a finished run (--run DIR, or the latest run "
        "of --modality) by closed-vocabulary ranking on held-out synthetic items."),
    run: Path = typer.Option(None, "--run", help="Run folder for --eval-only."),
    split: str = typer.Option("test", help="Synthetic split for --eval-only: val or test."),
    size: int = typer.Option(None, help="Items to rank for --eval-only (default: the recipe's)."),
    print_recipe: bool = typer.Option(False, "--print-recipe",
                                      help="Print the resolved recipe and exit."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Train a projector: `xalign train --modality audio` trains the offline default on CPU."""
    overrides = list(overrides or [])
    if eval_only:
        from xalign.train.run import evaluate_run, latest_run

        target = run or (Path(resume) if resume and resume != "latest" else None)
        if target is None and modality:
            target = latest_run(modality)
        if target is None:
            raise XalignError("--eval-only needs --run DIR (or --modality with a run under runs/)")
        result = evaluate_run(target, split=split, size=size)
        _print_ranking(f"{target}: {split} ranking accuracy", result)
        return
    resume_dir, overrides = _resume_target(resume, modality, overrides)
    spec = _resolve(recipe, modality, resume_dir, overrides)
    if print_recipe:
        from xalign.train.recipe_io import dump_recipe

        console.print(dump_recipe(spec), highlight=False, markup=False)
        return
    from xalign.registry import get_modality
    from xalign.train.run import train_recipe

    get_modality(spec.modality)  # fail early with the install line when it is missing
    result = train_recipe(spec, out, resume=resume_dir, console=console,
                          show_progress=not no_progress)
    if not result.is_main:  # another process of a distributed run
        return
    table = Table(title=f"{spec.name or spec.modality}: {result.run_dir}")
    table.add_column("")
    table.add_column("")
    table.add_row("steps", str(result.steps))
    table.add_row("final loss", f"{result.final_loss:.4f}")
    for name, value in (("val", result.val), ("test", result.test)):
        if value:
            table.add_row(f"{name} accuracy", f"{value['accuracy']:.1%} (chance "
                          f"{value['chance']:.1%}, {value['n']} items)")
            # attributes above eval.max_chance: asked, reported apart with their own chance
            for attribute, stats in value.get("per_attribute", {}).items():
                if not stats.get("headline", True):
                    table.add_row(f"  {attribute}", f"{stats['accuracy']:.1%} (chance "
                                  f"{stats['chance']:.1%}, {stats['n']} items; above "
                                  f"eval.max_chance {value['max_chance']:.0%}, not in the "
                                  f"{name} accuracy)")
    table.add_row("skipped items", str(result.skipped))
    table.add_row("time", f"{result.seconds:.0f} s")
    console.print(table)
