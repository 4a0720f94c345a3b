"""The caption teacher: zero exactly when the LLM reads the projected tokens as it reads the
caption, a gradient into the projector otherwise, a clear error without captions."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.fixtures_llm import make_tiny_llm
from xalign.errors import XalignError
from xalign.model import Example, MediaFeatures, XAlignModel
from xalign.projectors import ProjectorConfig, build_projector
from xalign.train.teacher import CaptionTeacher, after_inputs


@pytest.fixture()
def model() -> XAlignModel:
    llm = make_tiny_llm(seed=3)
    config = ProjectorConfig(kind="qformer", modality="image", feature_dim=8,
                             llm_dim=llm.hidden_size, num_tokens=3, llm_id=llm.llm_id,
                             cue=" image: ", instruction_vocab_size=len(llm.tokenizer))
    torch.manual_seed(0)
    return XAlignModel(llm, {"image": build_projector(config)})


def examples() -> list[Example]:
    features = torch.randn(2, 1, 5, 8, generator=torch.Generator().manual_seed(1))
    return [Example([MediaFeatures("image", features[0])], "What colour is it?", "red",
                    captions=("a red square",)),
            Example([MediaFeatures("image", features[1])], "Describe it.", "a blue ball on top",
                    captions=("a blue ball at the top",))]


def caption_tokens(model: XAlignModel, caption: str) -> torch.Tensor:
    """What the teacher puts in the slot: the caption's word embeddings."""
    ids = model.llm.tokenizer(" " + caption, add_special_tokens=False)["input_ids"]
    return model.language_model.get_input_embeddings()(torch.tensor(ids)).detach()


def test_positions_after_the_inputs_are_the_instruction_and_answer(model) -> None:
    exs = examples()
    composed = model.compose(exs)
    index, mask = after_inputs(composed)
    for row, example in enumerate(exs):
        last = int(composed.media_mask[row].nonzero().max())
        expected = list(range(last + 1, composed.lengths[row]))
        assert index[row][mask[row]].tolist() == expected
        answer = model.llm.tokenizer(example.target, add_special_tokens=False)["input_ids"]
        tail = composed.input_ids[row, expected].tolist()
        assert any(tail[i:i + len(answer)] == answer for i in range(len(tail)))


def with_context(exs: list[Example]) -> list[Example]:
    """As ``data.context_share`` writes them: a sentence before one input, after the other."""
    return [replace(exs[0], preamble="Please read carefully."),
            replace(exs[1], instruction="Keep your answer short.\n" + exs[1].instruction)]


@pytest.mark.parametrize("context", [False, True], ids=["plain", "beside-a-sentence"])
def test_match_is_zero_when_the_tokens_are_the_caption_and_positive_otherwise(model,
                                                                               monkeypatch,
                                                                               context):
    exs = with_context(examples()) if context else examples()
    teacher = CaptionTeacher(model, weight=1.0)
    assert teacher.loss(exs).match > 1e-3  # random projected tokens read unlike the caption
    words = [[caption_tokens(model, ex.captions[0])] for ex in exs]
    monkeypatch.setattr(model, "project", lambda _examples: words)
    assert teacher.loss(exs).match == pytest.approx(0.0, abs=1e-6)


def test_the_match_trains_the_projector_and_only_it(model) -> None:
    teacher = CaptionTeacher(model, weight=1.0)
    model.train()
    loss = teacher.loss(examples())
    assert loss.total.requires_grad
    loss.total.backward()
    grads = [p.grad for p in model.projectors["image"].parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.language_model.parameters())


def test_examples_without_captions_name_the_fix(model) -> None:
    teacher = CaptionTeacher(model, weight=1.0)
    with pytest.raises(XalignError, match="caption_teacher=0"):
        teacher.loss([replace(examples()[0], captions=())])


def test_manifest_captions_reach_the_items_and_a_run_without_them_is_refused(tmp_path) -> None:
    import json

    from xalign.data.manifest import ManifestError, ManifestSource
    from xalign.train.trainable import TrainError, check_captions

    line = {"id": "a", "media": [{"modality": "image", "path": "a.png"}],
            "instruction": "What colour?", "answer": "red"}
    (tmp_path / "with.jsonl").write_text(json.dumps({**line, "captions": ["a red square"]}))
    (tmp_path / "without.jsonl").write_text(json.dumps(line))
    (tmp_path / "bad.jsonl").write_text(json.dumps({**line, "captions": ["a", "b"]}))
    assert ManifestSource(tmp_path / "with.jsonl")[0].captions == ("a red square",)

    class Items:
        def __init__(self, source):
            self.source = source

        def __len__(self):
            return len(self.source)

        def item(self, i):
            return self.source[i]

    check_captions(Items(ManifestSource(tmp_path / "with.jsonl")))
    with pytest.raises(TrainError, match="caption_teacher=0"):
        check_captions(Items(ManifestSource(tmp_path / "without.jsonl")))
    with pytest.raises(ManifestError, match=r"bad\.jsonl:1: 'captions'"):
        ManifestSource(tmp_path / "bad.jsonl")


def llm_calls(model: XAlignModel) -> list[int]:
    calls: list[int] = []
    model.language_model.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_the_teachers_states_are_kept_for_text_it_has_read(model) -> None:
    """A synthetic item's text is the same every epoch: the second time, only the student
    runs, and the loss is the same."""
    kept, fresh = CaptionTeacher(model, weight=1.0), CaptionTeacher(model, weight=1.0,
                                                                     keep_bytes=0)
    first = kept.loss(examples())
    calls = llm_calls(model)
    again = kept.loss(examples())
    student_only = len(calls)
    recomputed = fresh.loss(examples())
    assert len(calls) - student_only > student_only  # the teacher ran again: nothing kept
    assert (again.nll, again.match) == (first.nll, first.match)
    assert recomputed.match == pytest.approx(first.match, rel=1e-5)
    assert fresh._kept_bytes == 0 and kept._kept_bytes > 0


def test_nothing_is_kept_while_llm_weights_train() -> None:
    from xalign.llm import apply_lora

    llm = apply_lora(make_tiny_llm(seed=3), r=2, target_modules=["q_proj"])
    config = ProjectorConfig(kind="mlp", modality="image", feature_dim=8,
                             llm_dim=llm.hidden_size, num_tokens=3, llm_id=llm.llm_id,
                             cue=" image: ")
    teacher = CaptionTeacher(XAlignModel(llm, {"image": build_projector(config)}), weight=1.0)
    teacher.loss(examples())
    assert teacher._kept_bytes == 0
