"""The offline mini-DisCRn: held-out entities, certain answers, balance, determinism."""

import pytest

from xalign.data.synthetic import sample_seed
from xalign.eval.discrn.synth import (
    attribute_question,
    default_pairs,
    quantity_questions,
    synthetic_discrn,
)
from xalign.eval.matching import FIRST, SECOND
from xalign.registry import get_registry

PAIRS = [("audio", "video"), ("3d", "image")]


@pytest.fixture(scope="module")
def examples():
    return synthetic_discrn(PAIRS, per_pair=12, seed=5)


def _check_answer_is_certain(ex):
    right, other = ex.properties[ex.label], ex.properties[1 - ex.label]
    registry = get_registry()
    mods = [registry.get(m) for m in ex.modalities]
    kind = ex.extra["kind"]
    if kind == "quantity":
        key, larger = next((k, i == 0) for k in right["quantities"]
                           for i, q in enumerate(quantity_questions(*mods, k))
                           if q == ex.question)
        diff = right["quantities"][key] - other["quantities"][key]
        assert (diff >= 0.3) if larger else (diff <= -0.3), ex
        # put in words by both: an attribute of the same name, with different values
        assert right["attributes"][key] != other["attributes"][key], ex
        return
    name, value = next((n, v) for n, v in right["attributes"].items()
                       if attribute_question(mods[ex.label], n, v) == ex.question)
    assert other["attributes"].get(name) != value, ex
    other_could = value in mods[1 - ex.label].attributes.get(name, ())
    # an attribute question needs perceiving the other input; an exclusive one does not
    assert other_could == (kind == "attribute"), ex


def test_every_answer_is_certain_and_held_out(examples):
    assert len(examples) == 24
    for ex in examples:
        _check_answer_is_certain(ex)
        assert all("-test-" in sid for sid in ex.sample_ids)  # test-split seeds only
        assert not any(w in ex.question.lower().split() for w in ("left", "right"))


def test_balanced_pairs_and_kinds(examples):
    for pair in ("audio–video", "3d–image"):
        rows = [e for e in examples if e.pair == pair]
        assert sum(e.label for e in rows) == 6
        for kind in {e.extra["kind"] for e in rows}:  # balanced within each kind too
            labels = [e.label for e in rows if e.extra["kind"] == kind]
            assert abs(2 * sum(labels) - len(labels)) <= 1, (pair, kind, labels)
    # every per-position field went with its entity when balancing swapped the inputs
    for ex in examples[::3]:
        for modality, sid, caption, props in zip(ex.modalities, ex.sample_ids, ex.captions,
                                                 ex.properties, strict=True):
            assert sid.startswith(modality + "-test-")
            index = int(sid.rsplit("-", 1)[1])
            sample = get_registry().get(modality).synthesize(sample_seed(5, "test", index))
            assert caption == sample.caption
            assert props["attributes"] == {k: str(v) for k, v in sample.attributes.items()}


def test_each_modality_is_the_answer_as_often_as_the_other():
    """Without this the modality with more attributes (the image) was the answer of up to 65%
    of a pair's questions, and preferring it scored above chance."""
    from collections import Counter

    made = synthetic_discrn([("image", "video"), ("3d", "audio")], per_pair=48, seed=0)
    for pair in ("image–video", "3d–audio"):
        rows = [e for e in made if e.pair == pair]
        answers = Counter(e.modalities[e.label] for e in rows)
        assert len(answers) == 2 and max(answers.values()) - min(answers.values()) <= 4, answers
        # the answer's modality and its position vary apart: every combination comes up
        combos = Counter((e.modalities[e.label], e.label) for e in rows)
        assert len(combos) == 4 and min(combos.values()) >= 8, combos


def test_deterministic_from_the_seed(examples):
    again = synthetic_discrn(PAIRS, per_pair=12, seed=5)
    assert [(e.id, e.sample_ids, e.question, e.label) for e in again] == \
        [(e.id, e.sample_ids, e.question, e.label) for e in examples]
    other = synthetic_discrn(PAIRS[:1], per_pair=4, seed=6)
    assert [e.captions for e in other] != [e.captions for e in examples[:4]]


def test_default_pairs_put_the_papers_first():
    names = get_registry().names()
    pairs = default_pairs(names)
    assert pairs[:2] == PAIRS
    assert len(pairs) == len(names) * (len(names) - 1) // 2


def test_position_words_never_become_questions():
    words = {w for w in FIRST + SECOND if " " not in w}
    assert {"left", "right"} <= words


def test_quantities_no_caption_puts_in_words_are_never_asked():
    """An image's brightness is a number of the generator that no caption or attribute
    question states: no projector can learn it, so no question asks about it."""
    made = synthetic_discrn([("image", "video"), ("audio", "video")], per_pair=12, seed=2)
    assert not any(ex.extra["kind"] == "quantity" for ex in made)
    kinds = [ex.extra["kind"] for ex in made if ex.pair == "image–video"]
    # colour: both could be red, only one is; the kinds take turns
    assert kinds.count("attribute") >= 4 and kinds.count("exclusive") >= 4, kinds
    for kind in ("attribute", "exclusive"):  # no kind keeps one answer position
        labels = [ex.label for ex in made if ex.pair == "image–video" and ex.extra["kind"] == kind]
        assert abs(2 * sum(labels) - len(labels)) <= 1, (kind, labels)


def test_questions_come_from_a_third_party_plugins_attributes_and_quantities():
    """No list in the core: a modality the core has never heard of brings its attributes,
    quantities and (optionally) its own phrasing, and the mini-DisCRn asks about them."""
    import torch

    from xalign.modality import Modality, SyntheticSample
    from xalign.registry import Registry, reset_registry

    def marble(seed: int) -> SyntheticSample:
        colour = ("teal", "amber")[seed % 2]
        weight = (seed % 7) / 6
        return SyntheticSample(torch.zeros(4), f"a {colour} marble", {
            "tint": colour, "weight": "heavy" if weight > 0.5 else "light"}, {"weight": weight})

    def chime(seed: int) -> SyntheticSample:
        weight = (seed % 5) / 4
        return SyntheticSample(torch.zeros(4), "a chime", {
            "tone": ("bright", "dull")[seed % 2], "weight": "heavy" if weight > 0.5 else "light"},
            {"weight": weight})

    WEIGHTS = ("light", "heavy")  # the words that put the weight quantity in a caption
    common = {"extensions": (".x",), "load": lambda p: p, "write": lambda raw, p: p}
    registry = Registry(strict=True)
    registry.modalities = {
        "marble": Modality(name="marble", cue=" marble: ", synthesize=marble,
                           attributes={"tint": ("teal", "amber"), "weight": WEIGHTS},
                           exclusive=("tint",),
                           questions={"weight": ("Which one is heavier?",
                                                 "Which one is lighter?")}, **common),
        "chime": Modality(name="chime", cue=" chime: ", synthesize=chime,
                          attributes={"tone": ("bright", "dull"), "weight": WEIGHTS}, **common),
    }
    reset_registry(registry)
    try:
        made = synthetic_discrn([("marble", "chime")], per_pair=12, seed=1)
    finally:
        reset_registry(None)
    asked = {ex.question for ex in made}
    assert asked & {"Which one is heavier?", "Which one is lighter?"}, asked  # plugin phrasing
    assert asked & {"Which one's tint is teal?", "Which one's tint is amber?"}, asked  # generic
    assert not any("tone" in q for q in asked)  # "dull" is not exclusive: never asked across


def test_the_joint_pair_is_chosen_from_installed_modalities_not_a_fixed_list():
    from xalign.eval.joint import joint_pair

    assert joint_pair(["3d", "image"]) == ("3d", "image")
    assert joint_pair(["audio", "video"]) == ("audio", "video")
    assert joint_pair(["image"]) is None
