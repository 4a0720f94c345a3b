"""Training-step time of the precision ``mixed_precision: auto`` picks here, against fp32.

The default must never be slower than fp32 (ratio <= 1.05): bf16 autocast is taken on CPU
only where the CPU has native bf16 (xalign/train/precision.py). Forward + backward of one
batch of the tiny recipe (frozen SmolLM2 + projector), alternating the two precisions,
``--repeats`` of each after a warm-up; the ratio compares the fastest step of each (other
jobs on a shared machine only ever add time; the medians are printed too). Prints the CPU
flags that decide, the choice and why, s/step for each and the ratio; exits 1 when the
ratio exceeds ``--max-ratio``.

``python bench/bench_precision.py [--modality audio] [--batch 8] [--repeats 5] [--bf16-too]``

An AVX2-only CPU is reproduced on a newer one by capping torch's kernels:
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2``; ``auto``
then picks fp32, and ``--bf16-too`` times bf16 autocast as well, to show what it would cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def one_step(model: torch.nn.Module, examples: list, bf16: bool) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(examples)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", default="audio")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--max-ratio", type=float, default=1.05)
    parser.add_argument("--bf16-too", action="store_true",
                        help="also time bf16 autocast where the default is fp32")
    args = parser.parse_args()

    from xalign.model import XAlignModel
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe
    from xalign.train.precision import choose_precision, cpu_flags

    flags = cpu_flags()
    shown = {f: (f in flags) if flags is not None else None for f in SHOWN_FLAGS}
    choice = choose_precision(default_recipe(args.modality).mixed_precision)
    avx2 = choose_precision("auto", cuda=False, flags=frozenset({"avx2", "fma"}))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"CPU flags: {', '.join(f'{k}={v}' for k, v in shown.items())}")
    caps = {name: os.environ[name] for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                                                "MKL_ENABLE_INSTRUCTIONS") if name in os.environ}
    print(f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}"
          f"{'; caps: ' + ', '.join(f'{k}={v}' for k, v in caps.items()) if caps else ''}")
    print(f"threads: {torch.get_num_threads()}; load average: {load}; {args.modality}, "
          f"batch {args.batch}, {args.repeats} steps each")
    print(f"default (mixed_precision: auto): {choice.describe()}")
    print(f"an AVX2-only CPU would get: {avx2.label} ({avx2.reason})")
    if choice.device != "cpu":
        print("a GPU is present: this benchmark times the CPU path only")
        return 0

    parts = build_components(default_recipe(args.modality))
    model = XAlignModel(parts.llm, {args.modality: parts.projector},
                        system_prompt=parts.recipe.llm.system_prompt)
    examples = [parts.train_set[i] for i in range(args.batch)]
    bf16 = choice.autocast_cpu_bf16
    one_step(model, examples, False)  # warm-up of each path
    one_step(model, examples, bf16)
    fp32_times, chosen_times = [], []
    for _ in range(args.repeats):  # alternate, so load changes hit both alike
        fp32_times.append(one_step(model, examples, False))
        chosen_times.append(one_step(model, examples, bf16))
    rows = [("fp32", fp32_times), (f"default: {choice.label}", chosen_times)]
    if args.bf16_too and not bf16:
        one_step(model, examples, True)
        rows.append(("bf16 autocast (not the default here)",
                     [one_step(model, examples, True) for _ in range(args.repeats)]))
    ratio = min(chosen_times) / min(fp32_times)
    print()
    print("| precision | s/step (fastest) | s/step (median) | all |")
    print("|---|---|---|---|")
    for label, times in rows:
        print(f"| {label} | {min(times):.3f} | {statistics.median(times):.3f} | "
              f"{' '.join(f'{t:.2f}' for t in times)} |")
    print(f"\nratio default/fp32 (fastest): {ratio:.2f} (limit {args.max_ratio:.2f}); "
          f"medians: {statistics.median(chosen_times) / statistics.median(fp32_times):.2f}")
    if not bf16:
        print("(the default is fp32 here: both rows run the same code; the ratio is noise)")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
