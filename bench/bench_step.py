"""Training-step time of the tiny recipe: float32 vs bf16 autocast, default vs empty system turn.

Forward + backward of one batch through the frozen SmolLM2 and the projector, median of
``--repeats`` after one warm-up, on the features of the first ``--batch`` training items.
``python bench/bench_step.py [--modality image] [--batch 8] [--repeats 5]`` (prints markdown).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch


def step_seconds(model: torch.nn.Module, examples: list, bf16: bool, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(examples)
        loss.backward()
        model.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", default="image")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from xalign.model import XAlignModel
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe

    parts = build_components(default_recipe(args.modality))
    examples = [parts.train_set[i] for i in range(args.batch)]
    print(f"threads: {torch.get_num_threads()}; {args.modality}, batch {args.batch}\n")
    print("| system turn | tokens per example | float32 s/step | bf16 s/step |")
    print("|---|---|---|---|")
    projector = parts.projector
    for label, prompt in (("template default", None), ('empty ("")', "")):
        # None would mean "what the projector recorded" (the tiny recipe records "")
        projector.config = dataclasses.replace(projector.config, system_prompt=prompt)
        model = XAlignModel(parts.llm, {args.modality: projector}, system_prompt=prompt)
        tokens = model.compose(examples).inputs_embeds.shape[1]
        fp32 = step_seconds(model, examples, False, args.repeats)
        bf16 = step_seconds(model, examples, True, args.repeats)
        print(f"| {label} | {tokens} | {fp32:.2f} | {bf16:.2f} |")


if __name__ == "__main__":
    main()
