"""Training benchmark (prints; not a test).

1. Feature cache: time per training step with the feature cache warm over cache off
   (data time — load, preprocess, encode or read the cache — and the whole step).
2. DDP: samples/s of 2 processes (``accelerate launch --multi_gpu``; torchrun, gloo on
   CPU) over 1 process, same recipe, same per-process batch.
3. Peak RSS of the tiny training run (``xalign train``, one process).

``python bench/bench_training.py [--modality image] [--steps 8] [--device cpu|cuda]``.
With ``--device cuda`` the tiny recipe's samples/s on the GPU is measured as well and the
DDP comparison is skipped unless there are two GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def cache_ratio(modality: str, steps: int, batch: int, device: str) -> dict[str, float]:
    """Mean data and step time over ``steps`` steps with the cache off, then warm."""
    from xalign.train.batches import SkipLog, fetch
    from xalign.train.build import build_components
    from xalign.train.defaults import default_recipe

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("off", "warm"):
            overrides = [f"schedule.batch_size={batch}", f"cache.dir={tmp}",
                         f"cache.enabled={'false' if mode == 'off' else 'true'}"]
            recipe = default_recipe(modality, overrides)
            torch.manual_seed(0)
            parts = build_components(recipe)
            model = parts.model.to(device)
            for encoder in parts.train_set.encoders.values():
                encoder.to(device)
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=1e-4)
            skips = SkipLog(None)
            indices = [list(range(i * batch, (i + 1) * batch)) for i in range(steps + 1)]
            if mode == "warm":  # fill the cache first (the first epoch of a run)
                for chunk in indices:
                    fetch(parts.train_set, chunk, skips)
            data = total = 0.0
            for n, chunk in enumerate(indices):
                sync(device)
                start = time.perf_counter()
                batch_ = fetch(parts.train_set, chunk, skips)
                loaded = time.perf_counter()
                loss = model.loss(batch_.examples)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                sync(device)
                end = time.perf_counter()
                if n:  # the first step warms up allocators and kernels
                    data += loaded - start
                    total += end - start
            out[f"data_{mode}_ms"] = 1000 * data / steps
            out[f"step_{mode}_ms"] = 1000 * total / steps
    out["data_ratio"] = out["data_off_ms"] / out["data_warm_ms"]
    out["step_ratio"] = out["step_off_ms"] / out["step_warm_ms"]
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_run(modality: str, steps: int, processes: int, device: str, out: Path
              ) -> tuple[float, float]:
    """(samples/s after the first logged step, wall seconds) of ``xalign train``."""
    env = {**os.environ}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    args = ["-m", "xalign", "train", "--modality", modality, "--out", str(out), "--no-progress",
            f"schedule.max_steps={steps}", "schedule.log_every=1", "eval.val_size=0",
            "eval.test_size=0", "checkpoint.every=0"]
    if processes > 1:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                   "--num_processes", str(processes), "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", *args]
    else:
        command = [sys.executable, *args]
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"training run failed:\n{proc.stderr[-2000:]}")
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["samples_per_s"] for r in records if "samples_per_s" in r][1:]
    return sum(rates) / max(len(rates), 1), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", default="image")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    print(f"# training benchmark: {args.modality}, {args.steps} steps, batch {args.batch}, "
          f"{args.device}, torch threads {torch.get_num_threads()}")

    cache = cache_ratio(args.modality, args.steps, args.batch, args.device)
    print(f"feature cache: data time per batch {cache['data_off_ms']:.0f} ms (off) vs "
          f"{cache['data_warm_ms']:.0f} ms (warm): {cache['data_ratio']:.1f}x; whole step "
          f"{cache['step_off_ms']:.0f} ms vs {cache['step_warm_ms']:.0f} ms: "
          f"{cache['step_ratio']:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        one, wall_one = train_run(args.modality, args.steps, 1, args.device, Path(tmp) / "one")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"tiny run, 1 process ({args.device}): {one:.2f} samples/s "
              f"({wall_one:.0f} s wall for {args.steps} steps incl. start-up)")
        print(f"peak RSS of the tiny training run: {peak_mb:.0f} MB")
        gpus = torch.cuda.device_count() if args.device == "cuda" else 0
        if args.device == "cpu" or gpus >= 2:
            two, _ = train_run(args.modality, args.steps, 2, args.device, Path(tmp) / "two")
            print(f"DDP: 2 processes {two:.2f} samples/s over 1 process {one:.2f}: "
                  f"{two / one:.2f}x (on {os.cpu_count()} CPU cores)")
        else:
            print("DDP: skipped (one GPU)")


if __name__ == "__main__":
    main()
