"""The rows' common opening runs once (xalign.llm.shared_prefix): same losses, hidden states,
gradients and rankings as the whole rows; the kept cache is never changed by use and is not
kept while LLM weights train."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.fixtures_llm import make_tiny_llm
from tests.test_model_bundle import feats, projector
from xalign.llm.shared_prefix import MIN_SHARED, shared_prefix_length
from xalign.model import Example, MediaFeatures, XAlignModel

PREAMBLE = "You are given two inputs. Select one of the two by its position."


def image_examples() -> list[Example]:
    """One modality, different questions and answers: rows that share their opening."""
    return [Example([MediaFeatures("image", feats(1, i))], question, answer)
            for i, (question, answer) in enumerate([
                ("What colour is it?", "red"),
                ("Describe the picture in a few words.", "a small blue circle"),
                ("How many?", "three")])]


def image_model(llm=None) -> XAlignModel:
    llm = llm or make_tiny_llm()
    return XAlignModel(llm, {"image": projector("qformer", "image", llm)})


def whole_rows(model: XAlignModel) -> XAlignModel:
    model.prefix_runner = None
    return model


def count_llm_calls(model: XAlignModel) -> list[int]:
    calls = []
    model.language_model.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_the_opening_is_the_template_and_cue_and_stops_before_the_first_target() -> None:
    model = image_model()
    composed = model.compose(image_examples())
    prefix = shared_prefix_length(composed)
    assert prefix >= MIN_SHARED
    assert not composed.media_mask[:, :prefix].any()  # text only, media start after it
    assert composed.media_mask[:, prefix].all()
    early = torch.full_like(composed.labels, -100)
    early[:, 3] = composed.input_ids[:, 3]  # a target token at position 3 ...
    assert shared_prefix_length(replace(composed, labels=early)) == 2  # ... predicted by 2
    one = model.compose(image_examples()[:1])
    assert shared_prefix_length(one) == 0  # a single row shares nothing


def test_loss_hidden_states_and_gradients_equal_the_whole_rows() -> None:
    runs, grads = [], []
    for share in (True, False):
        model = image_model()
        if not share:
            whole_rows(model)
        model.train()
        run = model.run_llm(model.compose(image_examples()), hidden_states=True)
        loss = run.nll.sum() / run.counted.sum() + sum(h.pow(2).mean() for h in run.hidden_states)
        loss.backward()
        runs.append(run)
        grads.append(torch.cat([p.grad.flatten() for p in model.trainable_parameters()]))
    shared, whole = runs
    assert torch.allclose(shared.nll, whole.nll, atol=1e-5)
    assert len(shared.hidden_states) == len(whole.hidden_states)
    mask = model.compose(image_examples()).attention_mask.bool()
    for a, b in zip(shared.hidden_states, whole.hidden_states, strict=True):
        assert a.shape == b.shape and torch.allclose(a[mask], b[mask], atol=1e-4)
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_the_kept_opening_is_reused_and_left_unchanged() -> None:
    model = image_model()
    calls = count_llm_calls(model)
    first = model.loss(image_examples())
    assert len(calls) == 2  # the opening, then the rows
    again = model.loss(image_examples())
    assert len(calls) == 3  # the rows only: the opening's cache was kept
    assert torch.equal(first, again)  # ... and using it did not change it
    model.prefix_runner.clear()
    model.loss(image_examples())
    assert len(calls) == 5


def test_with_lora_training_the_opening_runs_each_time_and_its_adapters_learn() -> None:
    from xalign.llm import apply_lora

    grads = []
    for share in (True, False):
        torch.manual_seed(0)
        model = image_model(apply_lora(make_tiny_llm(), r=2, target_modules=["q_proj"]))
        torch.manual_seed(1)
        for name, p in model.named_parameters():
            if "lora_B" in name:  # non-zero, so the opening's keys depend on the adapters
                p.data.normal_()
        if not share:
            whole_rows(model)
        model.train()
        calls = count_llm_calls(model)
        model.loss(image_examples()).backward()
        model.loss(image_examples())
        if share:
            assert len(calls) == 4  # nothing kept while the LLM trains ...
            with torch.no_grad():  # ... not even for an evaluation between its steps
                model.loss(image_examples())
            assert not model.prefix_runner._kept
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if "lora_" in n})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize("preamble", ["", PREAMBLE])
def test_ranking_left_padded_prompts_equals_the_whole_rows(preamble: str) -> None:
    """DisCRn's prompts open with its fixed instruction; the ranked losses do not change."""
    examples = [replace(e, target=None, preamble=preamble) for e in image_examples()]
    candidates = [["red", "a cat"], ["a small blue circle", "no", "two dogs"], ["three"]]
    model, reference = image_model().eval(), whole_rows(image_model().eval())
    calls, whole_calls = count_llm_calls(model), count_llm_calls(reference)
    shared = model.candidate_losses_many(examples, candidates)
    whole = reference.candidate_losses_many(examples, candidates)
    assert len(calls) == len(whole_calls) + 1  # the opening, once
    assert all(torch.allclose(s, w, atol=1e-5) for s, w in zip(shared, whole, strict=True))
