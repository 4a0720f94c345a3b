"""``make demo``'s training stage: a tiny projector per installed modality, held-out accuracy.

Trains each modality with its embedded tiny recipe, side by side on a machine with two
cores or more (one process and one copy of SmolLM2 each), else one after the other on one
shared SmolLM2, writing ``runs/demo/<modality>/``, then prints held-out (synthetic
``test`` split) accuracy by closed-vocabulary ranking next to chance.
``python -m xalign.train.demo``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from xalign.errors import XalignError


def shared_values(a: Any, b: Any) -> dict[str, set[str]]:
    """Attributes two modalities share, with the values they have in common: what a DisCRn
    question can ask only by perceiving both inputs ("which one is red?" for a red square
    and a blue ball), not by knowing which input is which modality."""
    shared = {name: set(a.attributes[name]) & set(b.attributes[name])
              for name in set(a.attributes) & set(b.attributes)}
    return {name: values for name, values in shared.items() if values}


def demo_modalities(every: bool = False) -> list[str]:
    """The installed modalities the demo trains: all of them with ``every``, else a pair of
    modalities whose default encoders are synthetic-world stand-ins (milliseconds per item;
    a real pretrained encoder such as Whisper is left to ``--all``), the pair sharing the
    most attribute values (so that its mini-DisCRn asks questions that need both inputs
    perceived), the fewest frames per item among equals."""
    import itertools

    from xalign.registry import get_registry

    registry = get_registry()
    names = registry.names()
    if every or len(names) <= 2:
        return names
    mods = {n: registry.get(n) for n in names}
    light = [n for n in names if registry.encoder(n).stand_in]
    scored = []
    for a, b in itertools.combinations(light, 2):
        shared = shared_values(mods[a], mods[b])
        if shared:
            values = sum(len(v) for v in shared.values())
            scored.append((-len(shared), -values, mods[a].frames + mods[b].frames, (a, b)))
    if not scored:
        return (light or names)[:2]
    return list(min(scored)[-1])


# The demo reports test accuracy; with eval.every=0 a validation pass would only pick a
# `best` checkpoint equal to the last one. (Starting video from the image projector, as the
# paper does, would save most of video's steps but composes worse in the mini-DisCRn:
# bench/paper_findings.py.)
DEMO_OVERRIDES = ("eval.val_size=0",)


def run_demo(console: Console | None = None, modalities: list[str] | None = None,
             out: Path = Path("runs/demo"), overrides: list[str] | tuple[str, ...] = (),
             show_progress: bool = True, side_by_side: bool | None = None,
             max_steps: int | None = None) -> dict[str, Any]:
    """Train and evaluate each modality; returns ``{modality: RunResult}`` and prints a table.

    ``side_by_side`` (default: when there are two cores or more and several modalities)
    trains them at once, one process each sharing the cores (xalign/train/side_by_side.py),
    each printing plain progress lines behind its name (``show_progress`` applies to the
    other way); otherwise one after the other on one shared LLM. ``max_steps`` caps each
    run (``make demo``: its time budget), and the cap is printed.
    """
    import torch

    from xalign.train.defaults import default_recipe

    console = console or Console()
    modalities = modalities or demo_modalities()
    if not modalities:
        raise XalignError("no modality plugin installed; see `xalign plugins`")
    recipes = {name: default_recipe(name, [*DEMO_OVERRIDES, *overrides])  # the caller's win
               for name in modalities}
    own_steps = {name: recipe.schedule.max_steps for name, recipe in recipes.items()}
    for name, steps in own_steps.items():
        if max_steps is not None and steps is not None and steps > max_steps:
            # the whole schedule (warm-up, decay) fitted to the shorter run
            recipes[name] = default_recipe(name, [*DEMO_OVERRIDES, f"schedule.max_steps="
                                                  f"{max_steps}", *overrides])
    capped = [f"{name} {steps}" for name, steps in own_steps.items()
              if recipes[name].schedule.max_steps != steps]
    if capped:
        console.print(f"The demo caps each run at {max_steps} steps to fit its time budget; "
                      f"`xalign train` runs the recipes' own ({', '.join(capped)}).")
    for name in modalities:
        run_dir = out / name
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)  # the demo always starts fresh
    cores = torch.get_num_threads()
    if side_by_side is None:
        side_by_side = len(modalities) > 1 and cores > 1
    started = time.perf_counter()
    if side_by_side:
        results = _train_side_by_side(recipes, out, console, cores)
    else:
        results = _train_in_turn(recipes, out, console, show_progress)
    console.print(results_table(results, time.perf_counter() - started))
    return results


def _train_side_by_side(recipes: dict[str, Any], out: Path, console: Console, cores: int
                        ) -> dict[str, Any]:
    from xalign.train.side_by_side import Job, train_side_by_side

    steps = ", ".join(f"{name} {r.schedule.max_steps}" for name, r in recipes.items())
    console.rule(f"[bold]training the tiny {' and '.join(recipes)} projectors side by side "
                 f"(steps: {steps}; {cores} cores shared)")
    jobs = [Job(name, recipe, out / name) for name, recipe in recipes.items()]
    done = train_side_by_side(jobs, cores=cores, console=console)
    return {name: done[name] for name in recipes}  # in the demo's order


def _train_in_turn(recipes: dict[str, Any], out: Path, console: Console,
                   show_progress: bool) -> dict[str, Any]:
    from xalign.train.build import build_llm
    from xalign.train.run import train_recipe

    results: dict[str, Any] = {}
    llm = None
    for name, recipe in recipes.items():
        if llm is None:
            llm = build_llm(recipe)  # one frozen LLM shared by every run
        console.rule(f"[bold]training the tiny {name} projector ({recipe.schedule.max_steps} "
                     f"steps)")
        results[name] = train_recipe(recipe, out / name, console=console, llm=llm,
                                     show_progress=show_progress)
    return results


def results_table(results: dict[str, Any], seconds: float) -> Table:
    """Held-out accuracy per modality, with chance, items and time."""
    table = Table(title=f"Held-out attribute accuracy of the tiny projectors "
                        f"(closed-vocabulary ranking; {seconds / 60:.1f} min in all)")
    for column in ("modality", "test accuracy", "chance", "questions", "attributes",
                   "wall time", "run"):
        table.add_column(column)
    for name, result in results.items():
        test = result.test or {}
        # attributes above eval.max_chance are outside the headline: shown with their chance
        attributes = ", ".join(f"{a} {s['accuracy']:.0%}" + (
            "" if s.get("headline", True) else f" (chance {s['chance']:.0%})")
            for a, s in test.get("per_attribute", {}).items())
        accuracy = test.get("accuracy", float("nan"))
        style = "green" if accuracy >= 0.8 else "yellow"
        table.add_row(name, f"[{style}]{accuracy:.1%}", f"{test.get('chance', 0):.1%}",
                      str(test.get("n", 0)), attributes, f"{result.seconds:.0f} s",
                      str(result.run_dir))
    return table


def main(modality: list[str] = typer.Option(None, "--modality", "-m",
                                            help="Only these modalities (repeatable)."),
         every: bool = typer.Option(False, "--all", help="Every installed modality."),
         out: Path = typer.Option(Path("runs/demo"), help="Where the runs go."),
         in_turn: bool = typer.Option(False, "--in-turn",
                                      help="One modality after the other (default: side by "
                                           "side when the machine has two cores or more)."),
         max_steps: int | None = typer.Option(None, help="Train at most this many steps (make "
                                                  "demo: 160)."),
         overrides: list[str] = typer.Argument(None, help="key=value recipe overrides.")
         ) -> None:
    run_demo(modalities=modality or demo_modalities(every), out=out, overrides=overrides or (),
             side_by_side=False if in_turn else None, max_steps=max_steps)


if __name__ == "__main__":
    typer.run(main)
