"""Benchmark: DisCRn evaluation throughput, batched generation over batch size 1.

Builds mini-DisCRn examples (held-out synthetic entities), computes their features once
(untimed), then answers them all with ``XAlignModel.generate`` at batch size 1 and at
``--batch-size``, in one run, rounds interleaved so that load on a shared machine hits
both alike. Reports examples/s of each (median over rounds), their ratio, and how many
answers differ between the two (left padding must not change greedy answers).

Projectors are the given folders (``--projector``, e.g. from ``make demo``) or fresh
random tiny Q-Formers: throughput does not depend on what they learned.

    python bench/bench_discrn.py [--examples 16] [--batch-size 8] [--preset greedy]
                                 [--llm smollm2|tiny] [--projector DIR ...] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from xalign.eval.discrn.run import generate_answers, model_example, prepare
from xalign.eval.discrn.synth import synthetic_discrn
from xalign.llm import LoadedLLM, freeze_llm, load_llm
from xalign.model import XAlignModel, build_encoders
from xalign.projectors import ProjectorConfig, build_projector
from xalign.registry import get_registry

PAIR = ("audio", "image")


def tiny_llm(base: LoadedLLM) -> LoadedLLM:
    """A random 2-layer Llama over SmolLM2's tokenizer (for a quick run)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = base.tokenizer
    config = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    return LoadedLLM(freeze_llm(LlamaForCausalLM(config)), tok, "tiny-llama", 128)


def build_model(args: argparse.Namespace) -> XAlignModel:
    llm = load_llm("smollm2")
    if args.llm == "tiny":
        llm = tiny_llm(llm)
    if args.projector:
        return XAlignModel.from_pretrained(args.projector, llm=llm)
    registry = get_registry()
    projectors = {}
    for name in PAIR:
        modality = registry.get(name)
        torch.manual_seed(0)
        projectors[name] = build_projector(ProjectorConfig(
            kind="qformer", modality=name, feature_dim=registry.encoder(name).feature_dim,
            llm_dim=llm.hidden_size, num_tokens=4, llm_id=llm.llm_id, cue=modality.cue,
            frames=modality.frames, instruction_vocab_size=len(llm.tokenizer)))
    return XAlignModel(llm, projectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--preset", default="greedy", help="decoding preset (short_answer is "
                        "the paper's 5-beam search; greedy keeps a CPU run short)")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--llm", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--projector", nargs="*", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = build_model(args).eval()
    pairs = [PAIR] if not args.projector else None
    examples = synthetic_discrn(pairs, per_pair=args.examples, seed=0)[: args.examples]
    prepared = prepare(examples, build_encoders(model.projectors))
    options = {"preset": args.preset, "max_new_tokens": args.max_new_tokens}
    generate_answers(model, prepared[: args.batch_size], model_example, args.batch_size,
                     **options)  # warm-up

    rates: dict[int, list[float]] = {1: [], args.batch_size: []}
    answers: dict[int, dict[str, str]] = {}
    for _ in range(args.rounds):
        for size in rates:
            start = time.perf_counter()
            answers[size] = generate_answers(model, prepared, model_example, size, **options)
            rates[size].append(len(prepared) / (time.perf_counter() - start))
    single, batched = (statistics.median(rates[s]) for s in rates)
    differ = sum(answers[1][k] != answers[args.batch_size][k] for k in answers[1])
    print(f"DisCRn evaluation, {len(prepared)} examples ({args.llm}, preset {args.preset}, "
          f"{args.max_new_tokens} new tokens, {torch.get_num_threads()} threads)")
    print(f"  batch size 1: {single:.2f} examples/s")
    print(f"  batch size {args.batch_size}: {batched:.2f} examples/s")
    print(f"  ratio batched / single: {batched / single:.2f}x")
    print(f"  answers that differ between the two: {differ} of {len(prepared)}")


if __name__ == "__main__":
    main()
