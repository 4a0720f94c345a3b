"""DisCRn answer matching: synonym sets, whole words, both positions named is wrong."""

import pytest

from xalign.eval.matching import CORRECT, UNMATCHED, WRONG, match_answer

AV = (("audio",), ("video",))  # audio first, video second


@pytest.mark.parametrize("answer", [
    "the first one", "Left", "Entity A", "audio", "The audio.", "1st", "input 1", "OBJECT A",
    "It is the first input.", "(1)", "entity\n1",
])
def test_position_one_synonyms(answer):
    assert match_answer(answer, 0, AV).verdict == CORRECT
    assert match_answer(answer, 1, AV).verdict == WRONG


@pytest.mark.parametrize("answer", ["second", "the right one", "Entity B", "video", "2nd",
                                    "object 2", "input b"])
def test_position_two_synonyms(answer):
    assert match_answer(answer, 1, AV).verdict == CORRECT
    assert match_answer(answer, 0, AV).verdict == WRONG


@pytest.mark.parametrize("answer", ["both", "first or second", "the left and the right",
                                    "either one", "audio and video"])
def test_naming_both_positions_is_wrong(answer):
    assert match_answer(answer, 0, AV).verdict == WRONG
    assert match_answer(answer, 1, AV).verdict == WRONG


@pytest.mark.parametrize("answer", ["", "I don't know", "firstly maybe", "leftover", "a",
                                    "entity", "12", "secondary"])
def test_whole_words_only(answer):
    assert match_answer(answer, 0, AV).verdict == UNMATCHED


def test_modality_name_follows_its_position():
    # video first: "video" now names position one
    assert match_answer("the video", 0, (("video",), ("audio",))).verdict == CORRECT
    assert match_answer("the video", 1, (("video",), ("audio",))).verdict == WRONG


def test_same_modality_on_both_sides_names_neither():
    assert match_answer("the image", 0, (("image",), ("image",))).verdict == UNMATCHED


def test_cue_words_and_multiword_names():
    words = (("3d", "3d model"), ("image",))
    assert match_answer("The 3D model.", 0, words).verdict == CORRECT


def test_label_out_of_range():
    with pytest.raises(ValueError):
        match_answer("first", 2, AV)
