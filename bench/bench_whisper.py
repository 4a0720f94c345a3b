"""Cost of the pretrained Whisper encoder (xalign-encoder-whisper) in training (prints; not a test).

1. Encoder seconds per spoken item: preprocess (WhisperFeatureExtractor / Kaldi fbank) and
   the frozen network, for whisper-base, whisper-tiny.en and the tiny stand-in.
2. Feature cache with recipes/whisper-base-speech.yaml: hit ratio over two epochs of
   ``--items`` items (the first epoch fills the cache), and the time per training step
   (data + Q-Former + frozen LLM, forward and backward) with the cache off vs warm.

``python bench/bench_whisper.py [--encoder-items 8] [--items 16] [--steps 4] [--batch 8]``;
needs espeak-ng and the weight packages. Set OMP_NUM_THREADS to fix the thread count (printed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "whisper-base-speech.yaml"


def encoder_seconds(items: int) -> None:
    from xalign.data.synthetic import SyntheticSource
    from xalign.registry import get_registry

    registry = get_registry()
    samples = [SyntheticSource("speech", "val", size=items).sample(i) for i in range(items)]
    seconds = sum(s.raw.numel() for s in samples) / 16_000 / items
    print(f"spoken items: {items}, mean duration {seconds:.2f} s")
    for encoder_id in ("whisper-base", "whisper-tiny.en", "tiny"):
        spec = registry.encoder("speech", encoder_id)
        encoder = spec.instantiate()
        encoder(spec.preprocess(samples[0].raw, False))  # warm-up
        pre = net = 0.0
        for sample in samples:
            start = time.perf_counter()
            inputs = spec.preprocess(sample.raw, False)
            mid = time.perf_counter()
            features = encoder(inputs)
            end = time.perf_counter()
            pre, net = pre + mid - start, net + end - mid
        print(f"  {encoder_id:<16} preprocess {1000 * pre / items:6.0f} ms  encoder "
              f"{1000 * net / items:6.0f} ms per item  -> features {tuple(features.shape)}")


def cache_costs(items: int, steps: int, batch: int) -> None:
    from xalign.train.batches import SkipLog, fetch
    from xalign.train.build import build_components
    from xalign.train.recipe_io import load_recipe

    with tempfile.TemporaryDirectory() as tmp:
        step_ms = {}
        for mode in ("off", "warm"):
            recipe = load_recipe(RECIPE, [
                f"schedule.batch_size={batch}", f"cache.dir={tmp}",
                f"cache.enabled={'false' if mode == 'off' else 'true'}",
                f"data.sources.0.size={max(items, (steps + 1) * batch)}",
                "eval.val_size=0", "eval.test_size=0"])
            torch.manual_seed(0)
            parts = build_components(recipe)
            skips = SkipLog(None)
            chunks = [list(range(i * batch, (i + 1) * batch)) for i in range(steps + 1)]
            if mode == "warm":
                cache = parts.train_set.cache
                start = time.perf_counter()
                for epoch in range(2):
                    before = dict(cache.stats())
                    for i in range(0, items, batch):
                        fetch(parts.train_set, list(range(i, min(i + batch, items))), skips)
                    hits = cache.stats()["hits"] - before["hits"]
                    misses = cache.stats()["misses"] - before["misses"]
                    print(f"  cache epoch {epoch + 1}: {hits} hits, {misses} misses, hit ratio "
                          f"{hits / max(1, hits + misses):.0%}"
                          + (f" ({time.perf_counter() - start:.0f} s to fill)" if not epoch
                             else ""))
                for chunk in chunks:  # the timed steps below read a warm cache
                    fetch(parts.train_set, chunk, skips)
            model = parts.model
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=1e-4)
            data = total = 0.0
            for n, chunk in enumerate(chunks):
                start = time.perf_counter()
                fetched = fetch(parts.train_set, chunk, skips)
                loaded = time.perf_counter()
                model.loss(fetched.examples).backward()
                optimizer.step()
                optimizer.zero_grad()
                if n:  # the first step warms up allocators
                    data += loaded - start
                    total += time.perf_counter() - start
            step_ms[mode] = (1000 * data / steps, 1000 * total / steps)
        (d_off, s_off), (d_warm, s_warm) = step_ms["off"], step_ms["warm"]
        print(f"  batch {batch}: data {d_off:.0f} ms (cache off) vs {d_warm:.0f} ms (warm): "
              f"{d_off / d_warm:.0f}x; whole step {s_off:.0f} ms vs {s_warm:.0f} ms: "
              f"{s_off / s_warm:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16, help="items of the cache epochs")
    parser.add_argument("--encoder-items", type=int, default=8, help="0: skip part 1")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    print(f"# whisper benchmark: torch threads {torch.get_num_threads()}")
    if args.encoder_items:
        encoder_seconds(args.encoder_items)
    print("feature cache (whisper-base, recipes/whisper-base-speech.yaml):")
    cache_costs(args.items, args.steps, args.batch)


if __name__ == "__main__":
    main()
