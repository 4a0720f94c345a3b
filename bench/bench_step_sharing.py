"""Training-step time of the default recipe with and without the work it does only once.

Two savings, neither of which changes what a step computes (up to float rounding):
the rows' common opening (template and cue) runs once per batch, its cache kept while the
LLM is frozen (xalign/llm/shared_prefix.py), and the caption teacher's states are kept for
text it has read before (xalign/train/teacher.py; epochs after the first of a synthetic
run read them). One batch of the tiny recipe, forward and backward with the caption
teacher, in the precision ``auto`` picks, each setting timed ``--repeats`` times after a
warm-up; prints the CPU flags, s/step (fastest and median), the loss of each setting and
the speed-up.

``python bench/bench_step_sharing.py [--modality video] [--batch 8] [--repeats 5]``
(``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`` for
what an AVX2-only CPU runs).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def step(teacher, examples: list, bf16: bool) -> tuple[float, float]:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = teacher.loss(examples)
    loss.total.backward()
    teacher.model.zero_grad(set_to_none=True)
    return time.perf_counter() - start, float(loss.total.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", default="image")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from xalign.model import XAlignModel
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe
    from xalign.train.precision import choose_precision, speed_flags
    from xalign.train.teacher import CaptionTeacher

    flags = speed_flags()
    recipe = default_recipe(args.modality)
    choice = choose_precision(recipe.mixed_precision)
    print(f"CPU flags: {' '.join(flags)}; torch capability "
          f"{torch.backends.cpu.get_cpu_capability()}; threads {torch.get_num_threads()}")
    print(f"{choice.describe()}; {args.modality}, batch {args.batch}\n")
    parts = build_components(recipe)
    model = XAlignModel(parts.llm, {args.modality: parts.projector},
                        system_prompt=recipe.llm.system_prompt).train()
    runner = model.prefix_runner
    examples = [parts.train_set[i] for i in range(args.batch)]
    bf16 = choice.autocast_cpu_bf16
    settings = [("every row whole, teacher each step", None, 0),
                ("opening once", runner, 0),
                ("opening once, teacher states kept (a later epoch)", runner, None)]
    print("| setting | s/step (fastest) | s/step (median) | loss | speed-up (fastest) |")
    print("|---|---|---|---|---|")
    base = None
    for label, prefix_runner, keep_bytes in settings:
        model.prefix_runner = prefix_runner
        teacher = (CaptionTeacher(model, recipe.loss.caption_teacher) if keep_bytes is None
                   else CaptionTeacher(model, recipe.loss.caption_teacher, keep_bytes=0))
        step(teacher, examples, bf16)  # warm-up; fills the kept states where they are kept
        runs = [step(teacher, examples, bf16) for _ in range(args.repeats)]
        times = [t for t, _ in runs]
        base = base or min(times)
        print(f"| {label} | {min(times):.3f} | {statistics.median(times):.3f} | "
              f"{runs[-1][1]:.5f} | {base / min(times):.2f}× |")


if __name__ == "__main__":
    main()
