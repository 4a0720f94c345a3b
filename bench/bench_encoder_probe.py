"""What the frozen tiny encoders' features carry: a linear probe per attribute (prints; not a test).

For each modality and each encoder (``designed``: the seeded network with hand-designed
descriptor tokens; ``pretrained``: the contrastively pretrained one shipped in the plugin), the
features ``[F, T, d]`` of held-out synthetic items are flattened and standardised, and a
multinomial logistic regression (L2, strength picked on a fifth of the probe's training items)
is fitted per attribute on ``--train`` items of the *val* split and scored on ``--test`` items of
the *test* split. Neither split shares a seed with the pretraining stream.

``python bench/bench_encoder_probe.py [--modality audio --modality 3d] [--train 600] [--test 400]``
(``--source DIR --modality M``: probe the weights ``xalign encoders pretrain --out DIR`` wrote;
``--frame I``: one frame's tokens only, which is what a projector reading a clip one frame at
a time sees of it)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import platform
import time
from collections.abc import Callable

import torch

from xalign.data.synthetic import sample_seed
from xalign.encoders import FrozenEncoder
from xalign.registry import get_modality

MODALITIES = ("audio", "3d", "image", "video")
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
DESIGNED = {  # module, function: the seeded encoders with hand-designed descriptor tokens
    "audio": ("xalign_plugin_audio.encoders.tiny", "build_tiny_encoder"),
    "3d": ("xalign_plugin_3d.encoders.tiny", "build_tiny_encoder"),
    "image": ("xalign_plugin_image.encoders.tiny", "build_tiny_encoder"),
    "video": ("xalign_plugin_video.encoders", "build_tiny_encoder"),
}


def cpu_flags() -> str:
    """CPU model and the flags that decide bf16 / vector speed."""
    model, flags = platform.processor() or "?", set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return f"{model}; " + " ".join(f"{f}={'yes' if f in flags else 'no'}" for f in wanted)


def builders(modality: str, source: str | None = None
             ) -> dict[str, Callable[[], FrozenEncoder]]:
    """The encoders to probe; ``source``: a pretrained weights folder other than the shipped
    one (what ``xalign encoders pretrain --out DIR`` wrote)."""
    from xalign.cli.encoders import find_spec

    spec = find_spec(modality)
    module = importlib.import_module(spec.build.__module__)
    found = {"pretrained": functools.partial(module.build_pretrained_tiny_encoder, source)}
    name, attr = DESIGNED.get(modality, (None, None))
    if name:
        # moved or removed: probe the pretrained one only
        with contextlib.suppress(ImportError, AttributeError):
            found["designed"] = getattr(importlib.import_module(name), attr)
    return dict(sorted(found.items()))


def features(encoder: FrozenEncoder, modality, split: str, n: int, frame: int | None = None
             ) -> tuple[torch.Tensor, list[dict[str, str]], float]:
    """Flattened features ``[n, F·T·d]`` (``[n, T·d]`` of frame ``frame``), labels, and
    encoder ms per item (after preprocessing).

    Both the designed and the pretrained tiny encoder read the default encoder's input."""
    from xalign.registry import get_registry

    preprocess = get_registry().encoder(modality.name).preprocess
    rows, labels, seconds = [], [], 0.0
    for i in range(n):
        sample = modality.synthesize(sample_seed(0, split, i))
        inputs = preprocess(sample.raw, False)
        start = time.perf_counter()
        encoded = encoder(inputs)
        seconds += time.perf_counter() - start
        rows.append((encoded if frame is None else encoded[frame]).flatten().float())
        labels.append({k: str(v) for k, v in sample.attributes.items()})
    return torch.stack(rows), labels, 1000 * seconds / n


def fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> torch.Tensor:
    """Multinomial logistic regression by full-batch L-BFGS; returns ``[D + 1, classes]``."""
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    w = torch.zeros(x.shape[1], classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([w], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return w.detach()


def accuracy(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    return float(((x @ w).argmax(1) == y).float().mean())


def probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
          test_y: torch.Tensor, classes: int) -> float:
    """Test accuracy, with the L2 strength chosen on the last fifth of the training items."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    cut = len(train_x) * 4 // 5
    best = max(L2_GRID, key=lambda l2: accuracy(
        fit_logistic(train_x[:cut], train_y[:cut], classes, l2), train_x[cut:], train_y[cut:]))
    return accuracy(fit_logistic(train_x, train_y, classes, best), test_x, test_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", action="append", choices=MODALITIES)
    parser.add_argument("--encoder", action="append", choices=("designed", "pretrained"),
                        help="encoders to probe (default: both)")
    parser.add_argument("--source", help="pretrained weights folder to probe instead of the "
                        "shipped one (one modality)")
    parser.add_argument("--frame", type=int, help="probe this frame's (window's) tokens "
                        "only (0: the first, -1: the last)")
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=400)
    args = parser.parse_args()
    if args.source and len(args.modality or MODALITIES) != 1:
        parser.error("--source names one encoder's weights: give exactly one --modality")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"CPU: {cpu_flags()}; torch threads 1")
    print(f"probe: {args.train} val-split items to fit, {args.test} test-split items to score"
          + ("" if args.frame is None else f"; frame {args.frame} only"))
    print(f"{'modality':9} {'attribute':10} {'chance':>7} " + " ".join(
        f"{name:>11}" for name in ("designed", "pretrained")))
    for name in args.modality or MODALITIES:
        modality = get_modality(name)
        table: dict[str, dict[str, float]] = {}
        speed: dict[str, float] = {}
        for kind, build in builders(name, args.source).items():
            if args.encoder and kind not in args.encoder:
                continue
            encoder = build()
            train_x, train_l, ms = features(encoder, modality, "val", args.train, args.frame)
            test_x, test_l, _ = features(encoder, modality, "test", args.test, args.frame)
            speed[kind] = ms
            for attribute, values in modality.attributes.items():
                index = {v: i for i, v in enumerate(values)}
                train_y = torch.tensor([index[lab[attribute]] for lab in train_l])
                test_y = torch.tensor([index[lab[attribute]] for lab in test_l])
                table.setdefault(attribute, {})[kind] = probe(train_x, train_y, test_x, test_y,
                                                              len(values))
        for attribute, values in modality.attributes.items():
            cells = " ".join(f"{table[attribute].get(k, float('nan')):11.3f}"
                             for k in ("designed", "pretrained"))
            print(f"{name:9} {attribute:10} {1 / len(values):7.3f} {cells}", flush=True)
        print(f"{name:9} {'ms/item':10} {'':7} " + " ".join(
            f"{speed.get(k, float('nan')):11.1f}" for k in ("designed", "pretrained")),
            flush=True)


if __name__ == "__main__":
    main()
