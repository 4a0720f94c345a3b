"""Benchmark: xalign's model path against transformers on the same tiny configuration.

(a) Training step (forward + backward + AdamW) of XAlignModel (Q-Former projector +
    composer + frozen LLM) over the same step through transformers'
    ``InstructBlipForConditionalGeneration`` with identical sizes and weights, frozen
    vision and LLM. Both read the same precomputed features: the InstructBLIP vision
    tower is replaced by a frozen LayerNorm, the counterpart of the projector's ``ln``.
    Target: xalign / HF time <= 1.05.
(b) Batched generation (batch 8, KV cache, greedy, fixed new-token count): tokens/s of
    ``XAlignModel.generate`` over plain ``llm.generate`` on prompts of the same lengths.
    Target: >= 0.9.

Timings interleave the two sides step by step (warm-up first) and report medians, so
that load on a shared machine hits both alike.

    python bench/bench_model.py [--device cuda] [--llm tiny|smollm2] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from transformers import (
    InstructBlipConfig,
    InstructBlipForConditionalGeneration,
    InstructBlipVisionConfig,
    LlamaConfig,
    LlamaForCausalLM,
)
from transformers.modeling_outputs import BaseModelOutputWithPooling

from xalign.llm import LoadedLLM, freeze_llm, load_llm
from xalign.model import Example, MediaFeatures, XAlignModel
from xalign.projectors import ProjectorConfig, build_projector, hf_qformer_config

IMAGE_TOKEN = 0  # placeholder id for InstructBLIP's query positions (absent from the prompts)
INSTRUCTIONS = [
    "What is in the picture?",
    "Describe the scene briefly.",
    "How many objects are there, and which colour is the largest one?",
    "Is it day or night?",
    "Name the main object.",
    "Write a short caption for this image, mentioning the shapes and where they are.",
    "What colour is it?",
    "Where is the object?",
]
TARGETS = ["two red squares", "a blue circle on the left", "three, the green one", "day",
           "a triangle", "two blue triangles on the right of the picture", "red", "at the top"]


class FeatureStandIn(nn.Module):
    """Replaces InstructBLIP's vision tower: precomputed features -> frozen LayerNorm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.post_layernorm = nn.LayerNorm(dim)

    def forward(self, pixel_values: torch.Tensor, **_: object) -> BaseModelOutputWithPooling:
        hidden = self.post_layernorm(pixel_values)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=hidden[:, 0])


def make_llm(name: str) -> LoadedLLM:
    if name == "smollm2":
        return load_llm("smollm2")
    tokenizer = load_llm("smollm2").tokenizer
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=1024,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    return LoadedLLM(freeze_llm(LlamaForCausalLM(config)), tokenizer, "tiny-llama-256", 256)


def build(args: argparse.Namespace) -> tuple[XAlignModel, InstructBlipForConditionalGeneration]:
    llm = make_llm(args.llm)
    pconfig = ProjectorConfig(kind="qformer", modality="image", feature_dim=args.feature_dim,
                              llm_dim=llm.hidden_size, num_tokens=args.tokens, cue=" image: ",
                              instruction_vocab_size=len(llm.tokenizer))
    projector = build_projector(pconfig)
    hf_config = InstructBlipConfig(
        vision_config=InstructBlipVisionConfig(hidden_size=args.feature_dim, num_hidden_layers=1,
                                               num_attention_heads=4, intermediate_size=64,
                                               image_size=32, patch_size=16).to_dict(),
        qformer_config=hf_qformer_config(pconfig).to_dict(),
        text_config=llm.model.config.to_dict(),
        num_query_tokens=args.tokens,
        image_token_index=IMAGE_TOKEN,
    )
    hf = InstructBlipForConditionalGeneration(hf_config)
    hf.vision_model = FeatureStandIn(args.feature_dim)
    # identical weights on both sides
    hf.language_model.load_state_dict(llm.model.state_dict())
    projector.qformer.load_state_dict(hf.qformer.state_dict())
    with torch.no_grad():
        projector.query_tokens.copy_(hf.query_tokens)
    projector.llm_proj.load_state_dict(hf.language_projection.state_dict())
    projector.ln.load_state_dict(hf.vision_model.post_layernorm.state_dict())
    for module in (hf.vision_model, hf.language_model):
        freeze_llm(module)
    model = XAlignModel(llm, {"image": projector})
    return model.to(args.device).train(), hf.to(args.device).train()


def timed(fn: Callable[[], object], device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def race(fns: dict[str, Callable[[], object]], warmup: int, repeats: int, device: str
         ) -> dict[str, tuple[float, float]]:
    """``(median, min)`` seconds of each function, run in turn after a warm-up."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def examples(args: argparse.Namespace, with_targets: bool) -> list[Example]:
    gen = torch.Generator().manual_seed(0)
    return [
        Example([MediaFeatures("image", torch.randn(1, args.feature_tokens, args.feature_dim,
                                                    generator=gen))],
                INSTRUCTIONS[i % len(INSTRUCTIONS)],
                TARGETS[i % len(TARGETS)] if with_targets else None)
        for i in range(args.batch)
    ]


def hf_inputs(model: XAlignModel, exs: list[Example], padding_side: str) -> dict:
    """The same sequences for transformers: query positions hold the image token."""
    composed = model.compose(exs, padding_side=padding_side)
    ids = composed.input_ids.clone()
    assert not (ids[~composed.media_mask] == IMAGE_TOKEN).any(), "pick another IMAGE_TOKEN"
    ids[composed.media_mask] = IMAGE_TOKEN
    q = model.llm.tokenizer([e.instruction for e in exs], padding=True, padding_side="right",
                            return_tensors="pt")
    device = model.device
    return {
        "pixel_values": torch.cat([e.media[0].features for e in exs]).to(device),
        "qformer_input_ids": q["input_ids"].to(device),
        "qformer_attention_mask": q["attention_mask"].to(device),
        "input_ids": ids,
        "attention_mask": composed.attention_mask,
        "labels": composed.labels,
    }


def bench_training(model: XAlignModel, hf: nn.Module, args: argparse.Namespace) -> None:
    exs = examples(args, with_targets=True)
    inputs = hf_inputs(model, exs, "right")
    with torch.no_grad():
        ours, theirs = model.loss(exs).item(), hf(**inputs).loss.item()
    print(f"  same computation: loss xalign {ours:.5f} vs transformers {theirs:.5f}")
    opt_x = torch.optim.AdamW(model.trainable_parameters(), lr=1e-5, weight_decay=0.05)
    opt_h = torch.optim.AdamW([p for p in hf.parameters() if p.requires_grad], lr=1e-5,
                              weight_decay=0.05)
    n_x = sum(p.numel() for p in model.trainable_parameters())
    n_h = sum(p.numel() for p in hf.parameters() if p.requires_grad)
    print(f"  trainable parameters: xalign {n_x:,} / transformers {n_h:,}")

    def step_x() -> None:
        opt_x.zero_grad(set_to_none=True)
        model.loss(exs).backward()
        opt_x.step()

    def step_h() -> None:
        opt_h.zero_grad(set_to_none=True)
        hf(**inputs).loss.backward()
        opt_h.step()

    def step_x_full_logits() -> None:  # the LM head over every position, as transformers does
        model._keep_logits = False
        try:
            step_x()
        finally:
            model._keep_logits = True

    got = race({"x": step_x, "h": step_h, "xf": step_x_full_logits}, args.warmup, args.repeats,
               args.device)
    (tx, tx_min), (th, th_min), (tf, tf_min) = got["x"], got["h"], got["xf"]
    print(f"  (a) train step  xalign {tx * 1000:8.1f} ms   InstructBLIP {th * 1000:8.1f} ms   "
          f"ratio {tx / th:.3f} (best-of ratio {tx_min / th_min:.3f})  target <= 1.05: "
          f"{'OK' if tx / th <= 1.05 else 'MISSED'}")
    print(f"      xalign with full-sequence logits (no logits_to_keep): {tf * 1000:8.1f} ms, "
          f"ratio {tf / th:.3f} (best-of {tf_min / th_min:.3f})")


def bench_generation(model: XAlignModel, args: argparse.Namespace) -> None:
    model.eval()
    exs = examples(args, with_targets=False)
    composed = model.compose(exs, padding_side="left")
    ids = composed.input_ids.clone()
    ids[composed.media_mask] = IMAGE_TOKEN
    mask = composed.attention_mask
    n = args.new_tokens
    llm = model.llm

    def gen_x() -> None:
        model.generate(exs, preset="greedy", max_new_tokens=n, min_new_tokens=n)

    @torch.no_grad()
    def gen_p() -> None:
        out = llm.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n,
                                 min_new_tokens=n, do_sample=False, use_cache=True,
                                 pad_token_id=llm.pad_token_id)
        assert out.shape[1] == ids.shape[1] + n

    got = race({"x": gen_x, "p": gen_p}, max(1, args.warmup // 2), args.gen_repeats,
               args.device)
    (tx, tx_min), (tp, tp_min) = got["x"], got["p"]
    rate_x, rate_p = args.batch * n / tx, args.batch * n / tp
    verdict = "OK" if rate_x / rate_p >= 0.9 else "MISSED"
    print(f"  (b) generation  xalign {rate_x:8.1f} tok/s  llm.generate {rate_p:8.1f} tok/s  "
          f"ratio {rate_x / rate_p:.3f} (best-of ratio {tp_min / tx_min:.3f})  target >= 0.9: "
          f"{verdict}   [batch {args.batch}, prompt {ids.shape[1]} tokens, {n} new]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--llm", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32, help="Q-Former queries K")
    parser.add_argument("--feature-dim", type=int, default=256)
    parser.add_argument("--feature-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--gen-repeats", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 avoids oversubscription on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, hf = build(args)
    print(f"bench_model: device {args.device}, LLM {model.llm.llm_id} "
          f"(hidden {model.llm.hidden_size}), Q-Former preset tiny, K {args.tokens}, "
          f"features [{args.feature_tokens}, {args.feature_dim}], batch {args.batch}, "
          f"torch threads {torch.get_num_threads()}")
    bench_training(model, hf, args)
    bench_generation(model, args)


if __name__ == "__main__":
    main()
