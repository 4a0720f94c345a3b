"""Synthetic source determinism and split disjointness, template variety, mixing proportions."""

from __future__ import annotations

import math
import sys
from collections import Counter

import numpy as np
import pytest

from tests.test_data_fake import BLOB_ATTRIBUTES, fake_registry  # noqa: F401 - fixture
from xalign.data import MixedSource, SyntheticSource, TrainItem, sample_seed, sqrt_weights
from xalign.data.hf import HFSource
from xalign.data.templates import CAPTION, CLASSIFY, QUESTION, YES_NO
from xalign.errors import UnknownNameError, XalignError


def as_tuple(item: TrainItem) -> tuple:
    raw = item.media[0][1]
    return (item.id, item.instruction, item.target, item.task, item.candidates,
            raw.tobytes(), tuple(sorted(item.attributes.items())))


@pytest.mark.usefixtures("fake_registry")
def test_synthetic_source_is_deterministic_and_seed_dependent() -> None:
    a = [as_tuple(x) for x in SyntheticSource("blob", "train", size=30, seed=3)]
    b = [as_tuple(x) for x in SyntheticSource("blob", "train", size=30, seed=3)]
    c = [as_tuple(x) for x in SyntheticSource("blob", "train", size=30, seed=4)]
    assert a == b
    assert sum(x[5] != y[5] for x, y in zip(a, c, strict=True)) == 30
    # random access equals iteration order, negative indices work
    source = SyntheticSource("blob", "train", size=30, seed=3)
    assert as_tuple(source[17]) == a[17] and as_tuple(source[-1]) == a[-1]
    with pytest.raises(IndexError):
        source[30]


@pytest.mark.usefixtures("fake_registry")
def test_splits_never_share_samples() -> None:
    seeds = {s: {sample_seed(7, s, i) for i in range(2000)} for s in ("train", "val", "test")}
    assert not seeds["train"] & seeds["val"] and not seeds["train"] & seeds["test"]
    assert not seeds["val"] & seeds["test"]
    raws = {s: {x.media[0][1].tobytes() for x in SyntheticSource("blob", s, size=50, seed=7)}
            for s in ("train", "val", "test")}
    assert all(len(r) == 50 for r in raws.values())
    assert not raws["train"] & raws["val"] and not raws["val"] & raws["test"]
    with pytest.raises(UnknownNameError, match="did you mean 'val'"):
        SyntheticSource("blob", "vall")


@pytest.mark.usefixtures("fake_registry")
def test_tasks_rotate_and_answers_match_the_sample() -> None:
    source = SyntheticSource("blob", "train", size=300, seed=0)
    tasks = Counter(item.task.partition(":")[0] for item in source)
    assert tasks == {"caption": 100, "qa": 100, "classify": 100}
    for i, item in enumerate(source):
        sample = source.sample(i)
        assert np.array_equal(item.media[0][1], sample.raw)
        assert item.captions == (sample.caption,)  # what the caption teacher reads, every task
        base, _, attr = item.task.partition(":")
        if base == "caption":
            assert item.target == sample.caption and item.candidates == ()
        elif base == "classify":
            assert item.candidates == BLOB_ATTRIBUTES[attr]
            assert item.target == sample.attributes[attr]
            assert attr.replace("_", " ") in item.instruction
        elif item.target in ("yes", "no"):  # "Is the colour red?": the value asked is last
            asked = item.instruction.replace(" Answer yes or no.", "").rstrip("?").split()[-1]
            assert (item.target == "yes") == (asked == sample.attributes[attr])
            assert item.candidates == ("yes", "no")
        else:
            assert item.target == sample.attributes[attr]
            assert item.candidates == BLOB_ATTRIBUTES[attr]


@pytest.mark.usefixtures("fake_registry")
def test_templates_vary_and_read_generically() -> None:
    source = SyntheticSource("blob", "train", size=600, seed=1)
    by_task: dict[str, set[str]] = {}
    for item in source:
        by_task.setdefault(item.task.partition(":")[0], set()).add(item.instruction)
    captions = by_task["caption"]
    assert len(captions) == len(CAPTION)  # every phrasing is used
    assert "Describe the blob." in captions  # the noun comes from the cue
    assert len(by_task["qa"]) >= len(QUESTION) + len(YES_NO)
    assert len(by_task["classify"]) >= len(CLASSIFY)
    assert any("shape size" in q for q in by_task["qa"])  # attribute names read as words
    yes_no = Counter(item.target for item in source if item.target in ("yes", "no"))
    assert yes_no["yes"] > 10 and yes_no["no"] > 10


@pytest.mark.usefixtures("fake_registry")
def test_modality_without_attributes_falls_back_to_captions() -> None:
    items = list(SyntheticSource("hum", "val", size=9, tasks=("qa", "classify")))
    assert {item.task for item in items} == {"caption"}
    with pytest.raises(UnknownNameError, match="task"):
        SyntheticSource("hum", tasks=("summarise",))


class _Listed:
    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> TrainItem:
        assert 0 <= i < self.n
        return TrainItem(id=f"{self.name}-{i}", media=[], instruction="", target=str(i))


def test_mixing_uses_sqrt_size_by_default() -> None:
    sources = [_Listed("a", 100), _Listed("b", 400), _Listed("c", 1600)]
    assert sqrt_weights([100, 400, 1600]) == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    mixed = MixedSource(sources, size=700, seed=0)
    ids = [mixed[i].id.split("-")[0] for i in range(len(mixed))]
    assert Counter(ids) == {"a": 100, "b": 200, "c": 400}
    # shuffled, not blocked: each quarter of the mixture holds about its share of "c"
    for q in range(4):
        share = ids[q * 175:(q + 1) * 175].count("c") / 175
        assert abs(share - 4 / 7) < 0.12
    # a source is walked through without repeats before it cycles
    a_items = [mixed[i].id for i in range(700) if ids[i] == "a"]
    assert len(set(a_items)) == 100
    # default size: the sum of sizes, with the same proportions
    default = MixedSource(sources)
    assert len(default) == 2100
    counts = Counter(default.locate(i)[0] for i in range(2100))
    assert counts == {0: 300, 1: 600, 2: 1200}


def test_mixing_ratios_and_determinism() -> None:
    sources = [_Listed("a", 10), _Listed("b", 1000)]
    mixed = MixedSource(sources, ratios=[3, 1], size=400, seed=5)
    assert Counter(mixed.locate(i)[0] for i in range(400)) == {0: 300, 1: 100}
    a_uses = Counter(mixed.locate(i)[1] for i in range(400) if mixed.locate(i)[0] == 0)
    assert set(a_uses.values()) == {30}  # 300 draws of 10 items: each exactly 30 times
    again = MixedSource(sources, ratios=[3, 1], size=400, seed=5)
    other = MixedSource(sources, ratios=[3, 1], size=400, seed=6)
    order = [mixed.locate(i) for i in range(400)]
    assert order == [again.locate(i) for i in range(400)]
    assert order != [other.locate(i) for i in range(400)]
    assert math.isclose(sum(mixed.probabilities), 1.0)
    with pytest.raises(ValueError, match="2 ratios for 1 sources"):
        MixedSource(sources[:1], ratios=[1, 2])


def test_hf_source_without_datasets_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(XalignError, match="pip install datasets"):
        HFSource("some/data", media_columns={"image": "img"}, answer_column="text",
                 instruction="Describe the image.")


def test_hf_source_maps_columns(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    rows = [{"key": "r0", "img": "a.png", "caption": "a cat"},
            {"key": "r1", "img": {"path": "/abs/b.png", "bytes": None}, "caption": "a dog"}]

    class Rows(list):
        column_names = ("key", "img", "caption")

    fake = type(sys)("datasets")
    fake.load_dataset = lambda name, split, **kw: Rows(rows) if (name, split) == (
        "me/pets", "validation") and kw == {"streaming": False} else None
    monkeypatch.setitem(sys.modules, "datasets", fake)
    source = HFSource("me/pets", "validation", media_columns={"image": "img"},
                      answer_column="caption", instruction="Describe the image.",
                      id_column="key", root=tmp_path, streaming=False)
    assert len(source) == 2
    first, second = source[0], source[1]
    assert first.media == [("image", tmp_path / "a.png")] and first.target == "a cat"
    assert second.id == "r1" and str(second.media[0][1]) == "/abs/b.png"
    assert second.instruction == "Describe the image."
    with pytest.raises(XalignError, match=r"no column.*'text'"):
        HFSource("me/pets", "validation", media_columns={"image": "img"},
                 answer_column="text", instruction="x", streaming=False)
