"""Ranking candidates: each prompt run once (its candidates on its key/value cache) against
each (prompt, candidate) row run whole, the way xalign ranked before
``xalign/llm/shared_prompt.py``. Same losses up to float rounding; prints both times.

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
from xalign.train.precision import cpu_flags

app = typer.Typer(add_completion=False)


@torch.no_grad()
def whole_rows(model: XAlignModel, examples: list[Any], candidates: list[list[str]],
               batch_size: int = 32) -> list[torch.Tensor]:
    """The reference: one full row per (example, candidate), the prompt repeated in each."""
    model.eval()
    losses = []
    pairs = [(e, c) for e, per in enumerate(candidates) for c in per]
    projected = model.project(examples)
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        composed = model.compose([replace(examples[e], target=c) for e, c in chunk],
                                 projected=[projected[e] for e, _ in chunk])
        run = model.run_llm(composed)
        losses.append(run.nll.sum(1) / run.counted.sum(1).clamp(min=1))
    return list(torch.cat(losses).float().split([len(c) for c in candidates]))


@app.command()
def main(modality: list[str] = typer.Option(["image", "video"], "--modality", "-m"),
         items: int = typer.Option(100, help="Test questions ranked per modality.")) -> None:
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe
    from xalign.train.precision import choose_precision, cpu_autocast

    flags = sorted((cpu_flags() or frozenset()) & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})
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
            for label, rank in (("whole rows", partial(whole_rows, model)),
                                ("shared prompt", model.candidate_losses_many)):
                start = time.perf_counter()
                losses = rank(examples, candidates)
                times[label] = (time.perf_counter() - start, losses)
        (t_whole, a), (t_shared, b) = times["whole rows"], times["shared prompt"]
        diff = max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))
        same = sum(int(x.argmin() == y.argmin()) for x, y in zip(a, b, strict=True))
        print(f"{name}: {count} questions, {sum(map(len, candidates))} candidates, "
              f"precision {precision.label}: whole rows {t_whole:.1f} s, shared prompt "
              f"{t_shared:.1f} s ({t_whole / t_shared:.2f}x); max |loss difference| "
              f"{diff:.1e}; same choice on {same}/{count}")


if __name__ == "__main__":
    app()
