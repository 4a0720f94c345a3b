"""Held-out keyword accuracy and transcription WER on spoken items, and Whisper's own ceiling.

    python -m xalign_encoder_whisper.evaluate --projector RUN/projector [--projector ...] \\
        --size 60 [--whisper whisper-base] [--out results.json]

On the ``test`` split of the ``speech`` synthetic world (items never trained on), each
trained projector (on its own recorded encoder) answers, by greedy decoding:

* transcription: "Describe the speech." (a caption instruction of the training templates;
  the caption of a spoken item is its sentence) -> word error rate against the sentence;
* keyword QA: "What is the {attribute} of this speech?" for colour, number, object and
  action -> correct when the answer's first word is the value (plural objects count).

Whisper's own decoder (greedy, no LLM) is the ceiling: WER of its transcript, and a keyword
counts as found when the transcript contains it. Words are compared after lower-casing,
dropping punctuation and spelling out the digits 0–10 (Whisper writes "5" for "five").
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xalign_encoder_whisper.vocab import ATTRIBUTES

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
TRANSCRIBE = "Describe the speech."
QUESTION = "What is the {attribute} of this speech?"
BATCH = 8


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, digits 0–10 spelt out."""
    out = []
    for token in re.findall(r"[a-z0-9']+", text.lower()):
        out.append(DIGITS[int(token)] if token.isdigit() and int(token) <= 10 else token)
    return out


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: total word edits / total reference words."""
    edits = sum(edit_distance(words(r), words(h))
                for r, h in zip(references, hypotheses, strict=True))
    return edits / max(1, sum(len(words(r)) for r in references))


def matches(value: str, word: str) -> bool:
    return word == value or word in (value + "s", value + "es")


def keyword_in_answer(value: str, answer: str) -> bool:
    first = words(answer)[:1]
    return bool(first) and matches(value, first[0])


def keyword_in_transcript(value: str, transcript: str) -> bool:
    return any(matches(value, w) for w in words(transcript))


def test_items(size: int, seed: int) -> list[Any]:
    from xalign.data.synthetic import SyntheticSource

    source = SyntheticSource("speech", "test", size=size, seed=seed)
    return [source.sample(i) for i in range(size)]


def evaluate_projector(directory: Path, samples: list[Any], llm: Any) -> dict[str, Any]:
    from xalign.featurize import featurize
    from xalign.model import Example, MediaFeatures
    from xalign.pipeline import build_pipeline
    from xalign.projectors import load_projector

    projector = load_projector(directory, llm_dim=llm.hidden_size, llm_id=llm.llm_id)
    pipeline = build_pipeline({"speech": projector}, llm)
    encoder, modality = pipeline.encoders["speech"], pipeline.modalities["speech"]
    start = time.perf_counter()
    features = [MediaFeatures("speech", featurize(modality, encoder, s.raw)) for s in samples]
    encode_s = time.perf_counter() - start
    prompts = [(TRANSCRIBE, None)] + [(QUESTION.format(attribute=a), a) for a in ATTRIBUTES]
    answers: dict[str | None, list[str]] = {}
    for instruction, attribute in prompts:
        budget = 24 if attribute is None else 4
        out: list[str] = []
        for b in range(0, len(features), BATCH):
            batch = [Example([f], instruction) for f in features[b:b + BATCH]]
            out += pipeline.model.generate(batch, preset="greedy", max_new_tokens=budget)
        answers[attribute] = out
    per_attribute = {a: sum(keyword_in_answer(s.attributes[a], ans)
                            for s, ans in zip(samples, answers[a], strict=True)) / len(samples)
                     for a in ATTRIBUTES}
    return {
        "projector": str(directory), "encoder": projector.config.encoder_id,
        "keyword_accuracy": sum(per_attribute.values()) / len(per_attribute),
        "per_attribute": per_attribute,
        "wer": word_error_rate([s.caption for s in samples], answers[None]),
        "encode_s_per_item": encode_s / len(samples),
        "examples": [{"said": s.caption, "transcript": t, **{a: answers[a][i] for a in ATTRIBUTES}}
                     for i, (s, t) in enumerate(zip(samples, answers[None], strict=True))][:5],
    }


def evaluate_whisper(name: str, samples: list[Any]) -> dict[str, Any]:
    import torch

    from xalign_encoder_whisper.features import preprocess
    from xalign_encoder_whisper.model import load_whisper, transcribe

    whisper = load_whisper(name)
    start = time.perf_counter()
    transcripts: list[str] = []
    for b in range(0, len(samples), BATCH):
        inputs = torch.cat([preprocess(s.raw) for s in samples[b:b + BATCH]])
        transcripts += transcribe(whisper, inputs)
    per_attribute = {a: sum(keyword_in_transcript(s.attributes[a], t)
                            for s, t in zip(samples, transcripts, strict=True)) / len(samples)
                     for a in ATTRIBUTES}
    return {
        "projector": f"{name} decoder (ceiling)", "encoder": name,
        "keyword_accuracy": sum(per_attribute.values()) / len(per_attribute),
        "per_attribute": per_attribute,
        "wer": word_error_rate([s.caption for s in samples], transcripts),
        "decode_s_per_item": (time.perf_counter() - start) / len(samples),
        "examples": [{"said": s.caption, "transcript": t}
                     for s, t in zip(samples[:5], transcripts[:5], strict=True)],
    }


def probe(encoder_ids: Sequence[str], recipe: Path, size: int, folds: int = 5
          ) -> list[dict[str, Any]]:
    """Linear probe (no LLM): how well each attribute reads off each encoder's frozen features.

    The ``size`` training items of ``recipe`` (spoken world, train split) are featurised
    through the recipe's feature cache (a run of the recipe has filled it); features are
    pooled (mean and max over frames and tokens), standardised, and a multinomial logistic
    regression is scored by stratified ``folds``-fold cross-validation (held-out items).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from xalign.data.dataset import FeatureDataset
    from xalign.data.synthetic import SyntheticSource
    from xalign.registry import get_modality
    from xalign.train.build import build_encoder, feature_cache
    from xalign.train.recipe_io import load_recipe

    out = []
    for encoder_id in encoder_ids:
        spec = load_recipe(recipe, [f"encoder.source={encoder_id}", f"data.sources.0.size={size}"])
        modality = get_modality(spec.modality)
        encoder = build_encoder(modality, spec)
        source = SyntheticSource(modality, "train", size=size, seed=spec.seed)
        dataset = FeatureDataset(source, {modality.name: encoder},
                                 cache=feature_cache(spec, encoder), train=True)
        start = time.perf_counter()
        pooled, labels = [], []
        for i in range(size):
            sample = source.sample(i)
            f = dataset.features(modality.name, sample.raw).float().flatten(0, 1)  # [F·T, d]
            pooled.append(_pool(f))
            labels.append(dict(sample.attributes))
        stats = dataset.cache.stats() if dataset.cache is not None else {}
        x = np.stack(pooled)
        per_attribute = {}
        for attribute in ATTRIBUTES:
            y = np.array([lab[attribute] for lab in labels])
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
            cv = StratifiedKFold(folds, shuffle=True, random_state=0)
            per_attribute[attribute] = float(cross_val_score(model, x, y, cv=cv).mean())
        out.append({"encoder": encoder_id, "items": size, "feature_s": time.perf_counter() - start,
                    "cache": stats, "per_attribute": per_attribute,
                    "mean": sum(per_attribute.values()) / len(per_attribute)})
    return out


def _pool(features: Any) -> Any:
    """``[tokens, d]`` -> mean and max over the tokens, concatenated (numpy)."""
    import numpy as np

    return np.concatenate([features.mean(0).numpy(), features.amax(0).numpy()])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projector", type=Path, action="append", default=[])
    parser.add_argument("--size", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="the runs' recipe seed")
    parser.add_argument("--whisper", default="whisper-base", help="ceiling ('' to skip)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--probe", default="", help="comma-separated encoder ids: linear probe "
                        "on cached training features instead of the projector evaluation")
    parser.add_argument("--recipe", type=Path, default=Path("recipes/whisper-base-speech.yaml"))
    args = parser.parse_args(argv)
    if args.probe:
        rows = probe(args.probe.split(","), args.recipe, args.size)
        print(f"{'encoder':<16} {'mean':>6}  per attribute (5-fold CV, chance 17%)")
        for r in rows:
            per = ", ".join(f"{a} {v:.0%}" for a, v in r["per_attribute"].items())
            print(f"{r['encoder']:<16} {r['mean']:>6.1%}  {per}  (cache {r['cache']}, "
                  f"{r['feature_s']:.0f} s)")
        if args.out:
            args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        return
    samples = test_items(args.size, args.seed)
    results = []
    if args.projector:
        from xalign.llm import load_llm
        from xalign.projectors import trained_llm

        llm = load_llm(trained_llm(args.projector))  # the LLM state they were trained on
        results += [evaluate_projector(p, samples, llm) for p in args.projector]
    if args.whisper:
        results.append(evaluate_whisper(args.whisper, samples))
    print(f"{'system':<48} {'keyword acc':>11} {'WER':>6}  per attribute")
    for r in results:
        per = ", ".join(f"{a} {v:.0%}" for a, v in r["per_attribute"].items())
        print(f"{r['projector'][-48:]:<48} {r['keyword_accuracy']:>11.1%} {r['wer']:>6.2f}  {per}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
