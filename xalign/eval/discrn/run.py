"""Running DisCRn with a model: features, prompts, batched generation, and the baselines.

Per DESIGN §4 the LLM input starts with the fixed instruction (the composer's
preamble), then ``[cue ‖ tokens]`` for both inputs, then the (rewritten) question; the
Q-Former sees "a short description" instead of the comparative question; frame-wise
inputs are cut to two frames.

Systems scored on the same examples:

* ``xalign``: the composed projectors;
* ``text-only``: no media at all, the same instruction and question;
* ``caption``: each input's tokens replaced by its caption (after its cue), as the
  paper's caption baseline (``captions_pred_<modality>``, or the synthetic captions).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from xalign.data.skips import SkipReport
from xalign.errors import MediaError
from xalign.eval.discrn.records import INSTRUCTION, QFORMER_PROMPT, DiscrnExample
from xalign.featurize import featurize, featurize_file
from xalign.model import Example, MediaFeatures
from xalign.ranking import rank_losses

SYSTEMS = ("xalign", "text-only", "caption")
# How a system answers (``answer_mode``):
# - "generate": greedy text, read by the matcher (the paper's protocol);
# - "rank": the likelier of RANK_ANSWERS by LLM loss (answer format taken out of the score);
# - "debiased": "rank" asked in both input orders; the answer is the input the LLM prefers
#   once its preference for a position is cancelled: margin(A, B) − margin(B, A), with
#   margin = loss("second") − loss("first"). A small LLM prefers one position whatever the
#   inputs (text-only SmolLM2 says "second" to every question); asking both orders is the
#   permutation debiasing of LLM multiple-choice answers (Zheng et al., 2023, "Large Language
#   Models Are Not Robust Multiple Choice Selectors"). Inputs that read the same either way
#   (text-only) tie; a tie is answered by a coin seeded from the example id.
# - "calibrated": "debiased" minus the same margin on a content-free pair of the same
#   question: each input replaced by the mean features of its modality over the evaluated
#   inputs (no label is read), a baseline caption by none. Swapping the order cancels a
#   preference for a position, not one for a *modality* (an LLM that reads the 3D tokens as
#   "the answer" whatever is asked); this cancels that too: contextual calibration with a
#   content-free input (Zhao et al., 2021, "Calibrate Before Use").
ANSWER_MODES = ("generate", "rank", "debiased", "calibrated")
RANK_ANSWERS = ("The first one.", "The second one.")


@dataclass(frozen=True)
class Prepared:
    """An example with the features of both inputs."""

    example: DiscrnExample
    media: tuple[MediaFeatures, MediaFeatures]


def subsample_frames(features: torch.Tensor, frames: int | None) -> torch.Tensor:
    """Keep ``frames`` frames of ``Tensor[F, T, d]``, the centres of equal segments."""
    total = features.shape[0]
    if frames is None or total <= frames:
        return features
    index = [int((i + 0.5) * total / frames) for i in range(frames)]
    return features[index]


def prepare(examples: Sequence[DiscrnExample], encoders: Mapping[str, Any],
            frames: int | None = 2, skips: SkipReport | None = None,
            registry: Any = None) -> list[Prepared]:
    """Features of every input; an example whose media fails is skipped and listed."""
    if registry is None:
        from xalign.registry import get_registry

        registry = get_registry()
    out = []
    for ex in examples:
        media = []
        try:
            for modality, obj in zip(ex.modalities, ex.media, strict=True):
                mod = registry.get(modality)
                encoder = encoders[modality]
                if isinstance(obj, (str, bytes)) or hasattr(obj, "is_file"):
                    feats = featurize_file(mod, encoder, obj)
                else:
                    feats = featurize(mod, encoder, obj, source=f"{ex.id}:{modality}")
                media.append(MediaFeatures(modality, subsample_frames(feats, frames)))
        except MediaError as exc:
            if skips is not None:
                skips.add_error(ex.id, exc)
            continue
        out.append(Prepared(ex, (media[0], media[1])))
    return out


def swapped(p: Prepared) -> Prepared:
    """The same question with the two inputs in the other order."""
    return Prepared(p.example.swapped(), (p.media[1], p.media[0]))


def position_margins(model: Any, examples: Sequence[Example]) -> list[float]:
    """How much likelier the LLM finds "the first one" than "the second one" (loss units),
    for each example, ranked in large batches (:func:`xalign.ranking.rank_losses`)."""
    losses = rank_losses(model, examples, [RANK_ANSWERS] * len(examples))
    return [float(pair[1] - pair[0]) for pair in losses]


def order_margins(model: Any, prepared: Sequence[Prepared],
                  build: Callable[[Prepared], Example]) -> list[float]:
    """margin(A, B) − margin(B, A) of each question: > 0 when the LLM prefers the first input
    once its preference for a position is cancelled."""
    # both orders of a question side by side: they share a batch, so inputs that read the
    # same either way (text-only) give bit-identical margins, an exact tie
    margins = position_margins(model, [e for p in prepared for e in (build(p), build(swapped(p)))])
    return [forward - backward for forward, backward in zip(margins[::2], margins[1::2],
                                                           strict=True)]


def content_free_inputs(prepared: Sequence[Prepared]) -> dict[str, MediaFeatures]:
    """Per modality, the mean features of the evaluated inputs (of its most common shape):
    an input that says nothing in particular about any of them."""
    features: dict[str, list[torch.Tensor]] = {}
    for p in prepared:
        for media in p.media:
            features.setdefault(media.modality, []).append(media.features)
    out = {}
    for modality, items in features.items():
        shape = Counter(tuple(f.shape) for f in items).most_common(1)[0][0]
        mean = torch.stack([f.float() for f in items if tuple(f.shape) == shape]).mean(0)
        out[modality] = MediaFeatures(modality, mean.to(items[0].dtype))
    return out


def content_free(p: Prepared, inputs: Mapping[str, MediaFeatures]) -> Prepared:
    """The question of ``p`` about content-free inputs of the same modalities, no captions."""
    example = replace(p.example, baseline_captions=("", ""), captions=("", ""))
    return Prepared(example, (inputs[p.media[0].modality], inputs[p.media[1].modality]))


def choose(p: Prepared, margin: float) -> str:
    """The first input when ``margin`` > 0; a tie (nothing told the inputs apart) is a fair
    coin, fixed per example."""
    if margin == 0:
        margin = 1.0 if zlib.crc32(p.example.id.encode()) % 2 else -1.0
    return RANK_ANSWERS[0 if margin > 0 else 1]


def debiased_answers(model: Any, prepared: Sequence[Prepared],
                     build: Callable[[Prepared], Example]) -> dict[str, str]:
    """The answers of ``answer_mode="debiased"`` (see :data:`ANSWER_MODES`)."""
    margins = order_margins(model, prepared, build)
    return {p.example.id: choose(p, m) for p, m in zip(prepared, margins, strict=True)}


def calibrated_answers(model: Any, prepared: Sequence[Prepared],
                       build: Callable[[Prepared], Example]) -> dict[str, str]:
    """The answers of ``answer_mode="calibrated"`` (see :data:`ANSWER_MODES`)."""
    inputs = content_free_inputs(prepared)
    # the content-free pair depends only on the question and the modalities' order
    keys = [(p.example.question, p.example.modalities) for p in prepared]
    neutral = {key: content_free(p, inputs) for key, p in zip(keys, prepared, strict=True)}
    bias = dict(zip(neutral, order_margins(model, list(neutral.values()), build), strict=True))
    margins = order_margins(model, prepared, build)
    return {p.example.id: choose(p, m - bias[key])
            for p, m, key in zip(prepared, margins, keys, strict=True)}


def model_example(p: Prepared) -> Example:
    return Example(media=list(p.media), instruction=p.example.question,
                   qformer_prompt=QFORMER_PROMPT, preamble=INSTRUCTION)


def text_only_example(p: Prepared) -> Example:
    return Example(media=[], instruction=p.example.question, preamble=INSTRUCTION)


def captions_inline(cues: Sequence[str], captions: Sequence[str], question: str) -> str:
    """The caption baseline's user text: one ``cue caption`` line per input, then the question
    (the LLM's text stage trains on this layout too, :mod:`xalign.llm.text_stage`)."""
    parts = [f"{cue.strip()} {caption.strip() or '(no caption)'}"
             for cue, caption in zip(cues, captions, strict=True)]
    return "\n".join([*parts, question])


def caption_example(p: Prepared, cue: Callable[[str], str]) -> Example:
    cues = [cue(m) for m in p.example.modalities]
    return Example(media=[], preamble=INSTRUCTION, instruction=captions_inline(
        cues, p.example.baseline_captions, p.example.question))


AS_TEXT = " as text"  # "<modality> as text": that modality's inputs read as their captions


def as_text_example(p: Prepared, modality: str, cue: Callable[[str], str]) -> Example:
    """The question with each ``modality`` input replaced by its true caption (as the caption
    baseline writes it) and the other input as projected tokens. Set beside ``xalign``, it
    shows which projector of a pair fails once composed: the score rises when the failing
    side reads as text."""
    if modality not in p.example.modalities:
        return model_example(p)
    if all(m == modality for m in p.example.modalities):
        return caption_example(p, cue)
    text = p.example.modalities.index(modality)
    line = captions_inline([cue(modality)], [p.example.baseline_captions[text]], "").rstrip()
    media = [p.media[1 - text]]
    if text == 0:  # the text comes before the tokens, as the first input would
        return Example(media=media, preamble=f"{INSTRUCTION}\n{line}",
                       instruction=p.example.question, qformer_prompt=QFORMER_PROMPT)
    return Example(media=media, preamble=INSTRUCTION, qformer_prompt=QFORMER_PROMPT,
                   instruction=f"{line}\n{p.example.question}")


def builder(model: Any, system: str) -> Callable[[Prepared], Example]:
    """The example builder of ``system``: one of :data:`SYSTEMS` or ``"<modality> as text"``
    (:func:`as_text_example`)."""
    if system.endswith(AS_TEXT):
        modality = system[: -len(AS_TEXT)]
        return lambda p: as_text_example(p, modality, model.cue)
    table = {"xalign": model_example, "text-only": text_only_example,
             "caption": lambda p: caption_example(p, model.cue)}
    if system not in table:
        raise ValueError(f"unknown DisCRn system {system!r}: one of {', '.join(SYSTEMS)} or "
                         f"'<modality>{AS_TEXT}'")
    return table[system]


def generate_answers(model: Any, prepared: Sequence[Prepared],
                     build: Callable[[Prepared], Example], batch_size: int = 8,
                     preset: str = "short_answer", answer_mode: str = "generate",
                     **overrides: Any) -> dict[str, str]:
    """``id -> answer``: generated, ``batch_size`` examples per ``model.generate`` call, or
    ranked (``rank``, ``debiased``, ``calibrated``; :data:`ANSWER_MODES`)."""
    if answer_mode not in ANSWER_MODES:
        raise ValueError(f"answer_mode must be one of {', '.join(ANSWER_MODES)}, "
                         f"got {answer_mode!r}")
    if answer_mode == "rank":  # a tie goes to "first", as argmin over the losses would
        margins = position_margins(model, [build(p) for p in prepared])
        return {p.example.id: RANK_ANSWERS[0 if m >= 0 else 1]
                for p, m in zip(prepared, margins, strict=True)}
    if answer_mode == "debiased":
        return debiased_answers(model, prepared, build)
    if answer_mode == "calibrated":
        return calibrated_answers(model, prepared, build)
    answers: dict[str, str] = {}
    for start in range(0, len(prepared), batch_size):
        chunk = prepared[start:start + batch_size]
        texts = model.generate([build(p) for p in chunk], preset=preset, **overrides)
        answers.update({p.example.id: t for p, t in zip(chunk, texts, strict=True)})
    return answers


def run_systems(model: Any, prepared: Sequence[Prepared], systems: Sequence[str] = SYSTEMS,
                batch_size: int = 8, preset: str = "short_answer", answer_mode: str = "generate",
                **overrides: Any) -> dict[str, dict[str, str]]:
    """Answers of each system (``xalign``, ``text-only``, ``caption``, ``<modality> as text``)
    on ``prepared``."""
    return {s: generate_answers(model, prepared, builder(model, s), batch_size, preset,
                                answer_mode, **overrides)
            for s in systems}
