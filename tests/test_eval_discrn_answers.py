"""How DisCRn answers are chosen from LLM losses, and which systems are scored: fake LLMs with
a known bias (a position, a modality, a projector it cannot read) against the answer modes
and the ``<modality> as text`` system."""

import re

import pytest
import torch

from xalign.eval.discrn.records import INSTRUCTION, QFORMER_PROMPT
from xalign.eval.discrn.run import run_systems
from xalign.eval.discrn.synth import synthetic_discrn

PAIR = ("audio", "image")


def numbered_examples():
    """Mini-DisCRn examples whose inputs are one number each (an id per entity), and the
    numbers of the right answers: what the fake LLMs below read."""
    from xalign.eval.discrn.run import Prepared
    from xalign.model import MediaFeatures

    examples = synthetic_discrn([PAIR], per_pair=24, seed=3)
    ids = {sid: float(i) for i, sid in enumerate(sorted({s for ex in examples
                                                          for s in ex.sample_ids}))}
    prepared = [Prepared(ex, tuple(MediaFeatures(m, torch.full((1, 1, 1), ids[s]))
                                   for m, s in zip(ex.modalities, ex.sample_ids, strict=True)))
                for ex in examples]
    return examples, prepared, {ids[ex.sample_ids[ex.label]] for ex in examples}


class PositionBiased:
    """Finds "the second one" likelier by 2.0 whatever it reads, and the right entity (a
    feature value it knows) likelier by 0.5 in either position: a small LLM's position
    preference over a weaker real signal."""

    def __init__(self, right):
        self.right = right

    def candidate_losses(self, example, candidates):
        assert list(candidates) == ["The first one.", "The second one."]
        signal = 0.0
        if example.media:
            first, second = (float(m.features.flatten()[0]) for m in example.media)
            signal = 0.5 * ((first in self.right) - (second in self.right))
        return torch.tensor([2.0 - signal, signal])  # [loss of first, loss of second]


def test_debiased_answers_cancel_a_position_preference_that_plain_ranking_follows():
    from xalign.eval.discrn.run import generate_answers, model_example
    from xalign.eval.discrn.score import score, summarize
    from xalign.model import Example

    examples, prepared, right = numbered_examples()
    model = PositionBiased(right)

    def accuracy(mode, build=model_example):
        answers = generate_answers(model, prepared, build, answer_mode=mode)
        return summarize(score(examples, answers))

    plain = accuracy("rank")
    assert plain["accuracy"] == 0.5 and plain["named"]["first"] == 0.0  # always "second"
    assert accuracy("debiased")["accuracy"] == 1.0

    def text_only(p):
        return Example(media=[], instruction=p.example.question)

    tied = accuracy("debiased", text_only)  # both orders read the same: coins, fixed per id
    assert tied == accuracy("debiased", text_only)
    assert 0.25 < tied["accuracy"] < 0.75 and 0.0 < tied["named"]["first"] < 1.0
    with pytest.raises(ValueError, match="debiased"):
        generate_answers(model, prepared, model_example, answer_mode="vote")


class ModalityBiased:
    """Finds the image "the answer" by 2.0 whatever it reads, in either position, and the
    right entity likelier by 0.5: a preference for one modality that swapping the order of
    the inputs does not cancel."""

    def __init__(self, right):
        self.right = right

    def candidate_losses(self, example, candidates):
        assert list(candidates) == ["The first one.", "The second one."]

        def score(media):
            return (2.0 * (media.modality == "image")
                    + 0.5 * (float(media.features.flatten()[0]) in self.right))
        prefers_first = score(example.media[0]) - score(example.media[1]) if example.media else 0
        return torch.tensor([-prefers_first / 2, prefers_first / 2])


def test_calibrated_answers_cancel_a_modality_preference_that_debiasing_keeps():
    from xalign.eval.discrn.run import content_free_inputs, generate_answers, model_example
    from xalign.eval.discrn.score import score, summarize

    examples, prepared, right = numbered_examples()
    model = ModalityBiased(right)
    image_answers = sum(ex.answer_modality == "image" for ex in examples) / len(examples)
    assert 0 < image_answers < 1

    def accuracy(mode):
        answers = generate_answers(model, prepared, model_example, answer_mode=mode)
        return summarize(score(examples, answers))["accuracy"]

    assert accuracy("debiased") == pytest.approx(image_answers)  # always the image
    assert accuracy("calibrated") == 1.0
    neutral = content_free_inputs(prepared)  # the mean of each modality's inputs
    assert set(neutral) == set(PAIR)
    assert float(neutral["image"].features) == pytest.approx(
        sum(float(p.media[i].features) for p in prepared for i in (0, 1)
            if p.media[i].modality == "image")
        / sum(m == "image" for p in prepared for m in p.example.modalities))


class BlindToAudio:
    """Reads image tokens and any caption ("entity N") but nothing from audio tokens: an LLM
    composed with an audio projector that fails once composed."""

    def __init__(self, right):
        self.right = right

    def cue(self, modality):
        return f" {modality}: "

    def candidate_losses(self, example, candidates):
        def tokens(media):
            return media.modality == "image" and float(media.features.flatten()[0]) in self.right

        def text(where):
            return float(re.search(r"entity (\d+)", where).group(1)) in self.right

        if len(example.media) == 2:
            first, second = (tokens(m) for m in example.media)
        elif not example.media:  # both captions, in order
            first, second = (text(line) for line in example.instruction.splitlines()[:2])
        elif "entity" in example.preamble:  # the caption is the first input
            first, second = text(example.preamble), tokens(example.media[0])
        else:
            first, second = tokens(example.media[0]), text(example.instruction)
        prefers_first = float(first) - float(second)
        return torch.tensor([-prefers_first / 2, prefers_first / 2])


def test_as_text_shows_which_projector_fails_composed():
    from dataclasses import replace

    from xalign.eval.discrn.run import Prepared, as_text_example
    from xalign.eval.discrn.score import score, summarize

    examples, prepared, right = numbered_examples()
    # each input's caption names its entity, so the fake LLM can read text too
    prepared = [Prepared(replace(p.example, baseline_captions=tuple(
        f"entity {int(m.features.flatten()[0])}" for m in p.media)), p.media) for p in prepared]
    examples = [p.example for p in prepared]
    model = BlindToAudio(right)
    answers = run_systems(model, prepared, ("xalign", "audio as text", "image as text",
                                            "caption"), answer_mode="debiased")
    accuracy = {s: summarize(score(examples, a)) for s, a in answers.items()}
    assert accuracy["audio as text"]["accuracy"] == accuracy["caption"]["accuracy"] == 1.0
    for system in ("xalign", "image as text"):  # audio tokens still read: coins there
        by_answer = accuracy[system]["by_answer_modality"]
        assert by_answer["image"]["accuracy"] == 1.0, system
        assert by_answer["audio"]["accuracy"] < 0.8, system
    # the layout: the caption stands where its input would, with the cue the baseline writes
    p = next(p for p in prepared if p.example.modalities == PAIR)
    first = as_text_example(p, "audio", model.cue)
    second = as_text_example(p, "image", model.cue)
    assert [m.modality for m in first.media] == ["image"]
    assert first.preamble == f"{INSTRUCTION}\naudio: {p.example.baseline_captions[0]}"
    assert first.instruction == p.example.question and first.qformer_prompt == QFORMER_PROMPT
    assert [m.modality for m in second.media] == ["audio"] and second.preamble == INSTRUCTION
    assert second.instruction == (f"image: {p.example.baseline_captions[1]}\n"
                                  f"{p.example.question}")
    with pytest.raises(ValueError, match="as text"):
        run_systems(model, prepared, ("oracle",), answer_mode="debiased")
