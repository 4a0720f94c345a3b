"""CIDEr-D against a hand computation; QA normalisation; label matching."""

import math

import pytest

from xalign.eval.cider import cider_d, ngrams, tokenize
from xalign.eval.text_match import exact_match, match_label, normalize


def test_cider_d_matches_a_hand_computation():
    # Two images. "a" occurs in the references of both: idf log(2) - log(2) = 0.
    # Every other n-gram occurs in one image: weight log(2) per count.
    refs = {"1": ["A cat sits."], "2": ["a dog runs"]}
    cands = {"1": "a cat sits", "2": "a dog"}
    corpus, per = cider_d(cands, refs)
    # image 1: identical to its reference: cosine 1 for n = 1, 2, 3; no 4-grams -> 0;
    # no length penalty. (1 + 1 + 1 + 0) / 4 * 10
    assert per["1"] == pytest.approx(7.5)
    # image 2: n=1 hyp {a:0, dog:l}, ref {a:0, dog:l, runs:l} -> l^2 / (l * sqrt(2) l) = 1/sqrt2;
    # n=2 hyp {a dog:l}, ref {a dog:l, dog runs:l} -> 1/sqrt2; n=3, 4: 0.
    # length 2 vs 3: exp(-1 / 72).
    expected2 = 10 * (2 / math.sqrt(2)) / 4 * math.exp(-1 / 72)
    assert per["2"] == pytest.approx(expected2)
    assert corpus == pytest.approx((7.5 + expected2) / 2)


def test_cider_d_clips_repetition_and_averages_references():
    refs = {"1": ["a red ball rolls left", "the red ball moves left"],
            "2": ["two quiet beeps"], "3": ["a tall cube"]}
    good = cider_d({"1": "a red ball rolls left", "2": "two beeps", "3": "a cube"}, refs)[1]["1"]
    spam = cider_d({"1": "red red red red ball ball", "2": "two beeps", "3": "a cube"},
                   refs)[1]["1"]
    assert good > spam > 0
    # one reference matching exactly, the other partly: the mean over references is < 10
    assert 0 < good < 10
    with pytest.raises(ValueError, match="no references for 9"):
        cider_d({"9": "x"}, {})


def test_tokenize_and_ngrams():
    assert tokenize("A dog's bark, LOUD!") == ["a", "dog's", "bark", "loud"]
    counts = ngrams(["a", "b", "a", "b"])
    assert counts[("a", "b")] == 2 and counts[("a", "b", "a", "b")] == 1


@pytest.mark.parametrize("pred,answers,ok", [
    ("The Red.", "red", True), ("an apple", ["apple", "pear"], True), ("Two", "2", False),
    ("hot-dog", "hot dog", True), ("red ball", "red", False), ("", "red", False),
])
def test_exact_match_after_normalising(pred, answers, ok):
    assert exact_match(pred, answers) is ok


def test_normalize():
    assert normalize("  The  Quick, brown_fox! ") == "quick brown fox"


@pytest.mark.parametrize("text,label", [
    ("dog", "dog"), ("It sounds like a dog barking.", "dog"), ("a hot dog", "hot dog"),
    ("chirping birds", "chirping_birds"), ("dog or cat", None), ("nothing", None),
])
def test_match_label(text, label):
    assert match_label(text, ["dog", "cat", "hot dog", "chirping_birds"]) == label
