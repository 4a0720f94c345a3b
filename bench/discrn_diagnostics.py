"""Where composition fails: token norms, and DisCRn with each input projected or captioned.

For two projectors trained apart (``make demo``'s, by default), prints

1. the norm of their projected tokens against the LLM's word embeddings (a linear head's
   tokens drift far from the words' norm; the ``normed`` head keeps them on it);
2. mini-DisCRn accuracy on their pair, order-debiased (``--answer-mode debiased``), with
   each input either projected or replaced in its slot by its caption's word embeddings:
   both projected (xalign), one captioned, both captioned (the ceiling the LLM's comparison
   sets). A row low only when one modality is projected names the projector to look at.

    python bench/discrn_diagnostics.py [--root runs/demo] [--per-pair 96]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from xalign.eval.demo import demo_projectors
from xalign.eval.discrn.run import Prepared, debiased_answers, model_example, prepare
from xalign.eval.discrn.score import score, summarize
from xalign.eval.discrn.synth import default_pairs, synthetic_discrn
from xalign.eval.loading import load_model
from xalign.llm.stage_texts import slot_embeddings
from xalign.train.precision import cpu_flags


def captioned_slots(model, modalities: set[str]):
    """``model.project`` with the inputs of ``modalities`` replaced by their captions' words."""
    project, embed = model.project, model.language_model.get_input_embeddings()

    def patched(examples):
        tokens = project(examples)
        for example, row in zip(examples, tokens, strict=True):
            for i, item in enumerate(example.media):
                if item.modality in modalities:  # the slot as the text stage fills it
                    row[i] = slot_embeddings(model.llm.tokenizer, embed, example.captions[i])
        return tokens
    return patched


def with_captions(p: Prepared):
    return replace(model_example(p), captions=tuple(p.example.captions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("runs/demo"))
    parser.add_argument("--per-pair", type=int, default=96)
    args = parser.parse_args()
    flags = cpu_flags() or frozenset()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    print("CPU flags:", " ".join(f for f in wanted if f in flags) or "(none of these)", wanted)
    model, encoders = load_model(demo_projectors(args.root))
    names = sorted(model.projectors)
    examples = synthetic_discrn(default_pairs(set(names)), args.per_pair, 0)
    prepared = prepare(examples, encoders)
    words = model.language_model.get_input_embeddings().weight.float().norm(dim=-1)
    with torch.no_grad():
        tokens = [t for row in model.project([model_example(p) for p in prepared[:32]])
                  for t in row]
    print(f"\nword embeddings: median norm {words.median():.2f}")
    for name in names:
        norms = torch.cat([t.float().norm(dim=-1) for t, m in
                           zip(tokens, [m for p in prepared[:32] for m in p.example.modalities],
                               strict=True) if m == name])
        print(f"{name} tokens: median norm {norms.median():.2f} "
              f"(min {norms.min():.2f}, max {norms.max():.2f})")
    print("\n| inputs in the slots | accuracy | attribute | exclusive |\n|---|---|---|---|")
    original = model.project
    for shown in ([], [names[0]], [names[1]], names):
        model.project = captioned_slots(model, set(shown)) if shown else original
        answers = debiased_answers(model, prepared, with_captions)
        model.project = original
        summary = summarize(score(examples, answers))
        kinds = summary["by_kind"]
        label = ", ".join(f"{m} {'captioned' if m in shown else 'projected'}" for m in names)
        print(f"| {label} | {summary['accuracy']:.1%} | "
              f"{kinds.get('attribute', {}).get('accuracy', float('nan')):.1%} | "
              f"{kinds.get('exclusive', {}).get('accuracy', float('nan')):.1%} |", flush=True)


if __name__ == "__main__":
    main()
