"""The composer: sequence layout, cues, order, label masking, padding, truncation."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_llm import make_tiny_llm
from xalign.compose import IGNORE_INDEX, ComposeItem, Composer, ContextLengthError


@pytest.fixture(scope="module")
def llm():
    return make_tiny_llm()


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def media(n: int, seed: int, d: int = 64) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_chat_layout_and_labels_cover_exactly_the_target(llm) -> None:
    tok = llm.tokenizer
    composer = Composer(tok)
    item = ComposeItem([(" audio: ", media(3, 0))], "What is it?", "a red ball")
    out = composer.compose([item], llm.embeddings)
    row, labels = out.input_ids[0].tolist(), out.labels[0]
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    target = [*ids(tok, "a red ball"), im_end]
    assert labels[labels != IGNORE_INDEX].tolist() == target  # target + end of turn, nothing else
    assert row[-len(target):] == target and (labels != IGNORE_INDEX).sum() == len(target)
    # user turn = cue, media, instruction; then the assistant header, then the answer
    text = tok.decode([t for t, m in zip(row, out.media_mask[0].tolist(), strict=True) if not m])
    assert text.endswith("<|im_start|>user\n audio: What is it?<|im_end|>\n"
                         "<|im_start|>assistant\na red ball<|im_end|>")
    assert out.attention_mask.all()
    cue = ids(tok, " audio: ")
    start = int(out.media_mask[0].nonzero()[0])
    assert row[start - len(cue): start] == cue
    assert torch.equal(out.inputs_embeds[0, start:start + 3], media(3, 0))


def test_preamble_comes_before_the_first_input(llm) -> None:
    """DisCRn's fixed instruction starts the input (DESIGN §4); the question follows the media."""
    tok = llm.tokenizer
    item = ComposeItem([(" audio: ", media(2, 0)), (" image: ", media(1, 1))], "Which is red?",
                       "the image", preamble="You are given two inputs.")
    out = Composer(tok).compose([item], llm.embeddings)
    row, mask = out.input_ids[0].tolist(), out.media_mask[0].tolist()
    text = tok.decode([t for t, m in zip(row, mask, strict=True) if not m])
    assert "<|im_start|>user\nYou are given two inputs. audio:  image: Which is red?" in text
    first = mask.index(True)
    preamble = ids(tok, "You are given two inputs.")
    cue = ids(tok, " audio: ")
    assert row[first - len(cue) - len(preamble): first - len(cue)] == preamble
    labels = out.labels[0]
    assert labels[labels != IGNORE_INDEX].tolist()[:-1] == ids(tok, "the image")


def test_cue_can_be_switched_off(llm) -> None:
    item = ComposeItem([(" audio: ", media(2, 0)), (" image: ", media(2, 1))], "Compare.")
    with_cue = Composer(llm.tokenizer).compose([item], llm.embeddings)
    without = Composer(llm.tokenizer, use_cue=False).compose([item], llm.embeddings)
    cue_len = len(ids(llm.tokenizer, " audio: ")) + len(ids(llm.tokenizer, " image: "))
    assert with_cue.input_ids.shape[1] - without.input_ids.shape[1] == cue_len
    plain = without.input_ids[0][~without.media_mask[0]].tolist()
    assert ids(llm.tokenizer, " audio: ")[0] not in plain
    spans = without.media_mask[0].nonzero().squeeze(1)
    assert spans.tolist() == list(range(int(spans[0]), int(spans[0]) + 4))  # adjacent inputs
    assert torch.equal(without.inputs_embeds[0, spans], torch.cat([media(2, 0), media(2, 1)]))


def test_any_number_of_inputs_in_any_order(llm) -> None:
    composer = Composer(llm.tokenizer)
    a, b, c = (" audio: ", media(2, 0)), (" image: ", media(4, 1)), (" 3d: ", media(1, 2))
    for order in ([a, b, c], [c, a, b], [b, b, a]):
        out = composer.compose([ComposeItem(order, "Which?", "first")], llm.embeddings)
        expected = torch.cat([t for _, t in order])
        assert torch.equal(out.inputs_embeds[0][out.media_mask[0]], expected)
        row = out.input_ids[0].tolist()
        mask = out.media_mask[0].tolist()
        starts = [i for i in range(1, len(row)) if mask[i] and not mask[i - 1]]
        for (cue, _), start in zip(order, starts, strict=True):
            cue_ids = ids(llm.tokenizer, cue)
            assert row[start - len(cue_ids): start] == cue_ids


def test_right_padding_for_training_left_padding_for_generation(llm) -> None:
    composer = Composer(llm.tokenizer)
    items = [ComposeItem([(" audio: ", media(2, 0))], "Hi", "yes"),
             ComposeItem([(" audio: ", media(5, 1))], "A much longer instruction here", "no")]
    right = composer.compose(items, llm.embeddings, padding_side="right")
    left = composer.compose(items, llm.embeddings, padding_side="left")
    short, width = right.lengths[0], right.input_ids.shape[1]
    assert short < width and right.lengths[1] == width
    assert right.attention_mask[0].tolist() == [1] * short + [0] * (width - short)
    assert left.attention_mask[0].tolist() == [0] * (width - short) + [1] * short
    assert (right.labels[0, short:] == IGNORE_INDEX).all()
    assert torch.equal(right.inputs_embeds[0, :short], left.inputs_embeds[0, width - short:])
    assert torch.equal(right.input_ids[1], left.input_ids[1])


def test_long_instruction_is_cut_from_the_left_keeping_media(llm) -> None:
    composer = Composer(llm.tokenizer)
    instruction = " ".join(f"word{i}" for i in range(200)) + " final question?"
    item = ComposeItem([(" audio: ", media(8, 0)), (" image: ", media(8, 1))], instruction, "ok")
    full = composer.compose([item], llm.embeddings)
    limit = full.input_ids.shape[1] - 50
    with pytest.warns(UserWarning, match="cut to its last"):
        cut = composer.compose([item], llm.embeddings, max_length=limit)
    assert cut.input_ids.shape[1] == limit
    assert int(cut.media_mask.sum()) == 16
    kept = cut.inputs_embeds[0][cut.media_mask[0]]
    assert torch.equal(kept, torch.cat([media(8, 0), media(8, 1)]))
    assert cut.input_ids[0, -20:].tolist() == full.input_ids[0, -20:].tolist()  # end kept
    assert cut.labels[cut.labels != IGNORE_INDEX].tolist() == full.labels[
        full.labels != IGNORE_INDEX].tolist()


def test_media_beyond_the_context_is_a_clear_error(llm) -> None:
    composer = Composer(llm.tokenizer)
    item = ComposeItem([(" video: ", media(300, 0))], "Describe.")
    with pytest.raises(ContextLengthError, match="300 media tokens"):
        composer.compose([item], llm.embeddings, max_length=256)


def test_plain_concatenation_without_a_chat_template() -> None:
    llm = make_tiny_llm(chat=False)
    tok = llm.tokenizer
    out = Composer(tok).compose([ComposeItem([(" image: ", media(2, 0))], "Caption:", " a cat")],
                                llm.embeddings)
    row = out.input_ids[0][~out.media_mask[0]].tolist()
    answer = [*ids(tok, " a cat"), tok.eos_token_id]
    assert row == ids(tok, " image: ") + ids(tok, "Caption:") + answer
    assert out.labels[0][out.labels[0] != IGNORE_INDEX].tolist() == answer


def test_a_batch_mixing_targets_and_no_targets_is_refused(llm) -> None:
    from xalign.errors import XalignError

    items = [ComposeItem([], "a", "b"), ComposeItem([], "c")]
    with pytest.raises(XalignError, match="every example"):
        Composer(llm.tokenizer).compose(items, llm.embeddings)


def test_system_prompt_becomes_the_first_turn(llm) -> None:
    tok = llm.tokenizer
    item = ComposeItem([(" audio: ", media(2, 0))], "What is it?", "a tone")
    default = Composer(tok).compose([item], llm.embeddings)
    empty = Composer(tok, system_prompt="").compose([item], llm.embeddings)
    told = Composer(tok, system_prompt="Be brief.").compose([item], llm.embeddings)
    text = tok.decode(told.input_ids[0].tolist())
    assert "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n audio: " in text
    assert tok.decode(empty.input_ids[0].tolist()).startswith(
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n")
    # the template's own default system turn is replaced, not added to
    assert empty.input_ids.shape[1] < default.input_ids.shape[1]
    assert tok.decode(told.input_ids[0].tolist()).count("<|im_start|>system") == 1
    # the labels still cover exactly the target
    assert (told.labels != IGNORE_INDEX).sum() == (default.labels != IGNORE_INDEX).sum()
