"""Ranking candidates: each prompt run once (its candidates on its key/value cache) against
each (prompt, candidate) row run whole, the way xalign ranked before
``xalign/llm/shared_prompt.py``; and the prompts' common opening (chat template and cue) run
once for all of them (``xalign/llm/shared_prefix.py``) or in every prompt. Same losses up to
float rounding; prints the three times.

Ranks the held-out test questions of the default recipe (2 to 5 candidates each) with an
untrained projector: what is timed is the LLM's work, which does not depend on training.

    python bench/bench_ranking.py [--modality image --modality video] [--items 100]
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

import torch
import typer

from xalign.model import XAlignModel
from xalign.train.precision import speed_flags

app = typer.Typer(add_completion=False)


@torch.no_grad()
def whole_rows(model: XAlignModel, examples: list[Any], candidates: list[list[str]],
               batch_size: int = 32) -> list[torch.Tensor]:
    """The reference: one full row per (example, candidate), the prompt repeated in each."""
    model.eval()
    runner, model.prefix_runner = model.prefix_runner, None  # every row whole
    losses = []
    pairs = [(e, c) for e, per in enumerate(candidates) for c in per]
    projected = model.project(examples)
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        composed = model.compose([replace(examples[e], target=c) for e, c in chunk],
                                 projected=[projected[e] for e, _ in chunk])
        run = model.run_llm(composed)
        losses.append(run.nll.sum(1) / run.counted.sum(1).clamp(min=1))
    model.prefix_runner = runner
    return list(torch.cat(losses).float().split([len(c) for c in candidates]))


@app.command()
def main(modality: list[str] = typer.Option(["image", "video"], "--modality", "-m"),
         items: int = typer.Option(100, help="Test questions ranked per modality.")) -> None:
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe
    from xalign.train.precision import choose_precision, cpu_autocast

    flags = speed_flags()
    print(f"CPU flags: {' '.join(flags) or 'unknown'}; torch threads {torch.get_num_threads()}")
    llm = None
    for name in modality:
        parts = build_components(default_recipe(name), llm=llm)
        llm, model = parts.llm, parts.model
        dataset, count = parts.test_set, min(items, len(parts.test_set))
        examples = [dataset[i] for i in range(count)]
        candidates = [list(dataset.item(i).candidates) for i in range(count)]
        precision = choose_precision(default_recipe(name).mixed_precision)
        with cpu_autocast(precision):
            times = {}
            for label, opening in (("whole rows", True), ("shared prompt", False),
                                   ("shared prompt and opening", True)):
                runner = model.prefix_runner
                if not opening:
                    model.prefix_runner = None
                rank = (partial(whole_rows, model) if label == "whole rows"
                        else model.candidate_losses_many)
                start = time.perf_counter()
                losses = rank(examples, candidates)
                times[label] = (time.perf_counter() - start, losses)
                model.prefix_runner = runner
        reference = times["whole rows"][1]
        print(f"{name}: {count} questions, {sum(map(len, candidates))} candidates, "
              f"precision {precision.label}")
        for label, (seconds, losses) in times.items():
            diff = max(float((x - y).abs().max()) for x, y in zip(losses, reference, strict=True))
            same = sum(int(x.argmin() == y.argmin())
                       for x, y in zip(losses, reference, strict=True))
            print(f"  {label}: {seconds:.1f} s ({times['whole rows'][0] / seconds:.2f}x); "
                  f"max |loss difference| {diff:.1e}; same choice on {same}/{count}")

if __name__ == "__main__":
    app()
