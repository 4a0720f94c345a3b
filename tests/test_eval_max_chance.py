"""`eval.max_chance` (issue 15, point 5): the attributes whose chance is at most it make the
headline accuracy; the others (a two-value attribute: chance 50%) are asked and reported with
their own chance, never dropped."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import ClassVar

import pytest
import torch

from xalign.registry import get_modality
from xalign.train.build import eval_set, eval_tasks, other_eval_tasks
from xalign.train.defaults import tiny_recipe
from xalign.train.evaluate import EvalSet, ranking_accuracy


class Items:
    """A dataset of closed-vocabulary questions, ``(task, candidates, target)`` per item."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def item(self, i):
        task, candidates, target = self.rows[i]
        return SimpleNamespace(task=task, candidates=candidates, target=target)

    def __getitem__(self, i):
        return SimpleNamespace(target=self.rows[i][2])


class Ranker:
    """Right on questions with more than two candidates, wrong on two-value ones."""

    projectors: ClassVar[dict] = {}

    def candidate_losses(self, example, candidates):
        right = (candidates.index(example.target) if len(candidates) > 2
                 else 1 - candidates.index(example.target))
        return torch.tensor([0.0 if i == right else 1.0 for i in range(len(candidates))])


COLOURS = ("red", "green", "blue", "white")
ROWS = [("classify:colour", COLOURS, COLOURS[i % 4]) for i in range(6)] + \
       [("classify:loudness", ("quiet", "loud"), "loud") for _ in range(3)]


def test_a_two_value_attribute_is_reported_with_its_own_chance():
    result = ranking_accuracy(Ranker(), Items(ROWS), max_chance=0.25)
    # the headline: colour only (chance 25%)
    assert (result.accuracy, result.chance, result.n) == (1.0, 0.25, 6)
    assert result.asked == 9 and result.max_chance == 0.25
    assert result.per_attribute == {
        "colour": {"accuracy": 1.0, "chance": 0.25, "n": 6, "headline": True},
        "loudness": {"accuracy": 0.0, "chance": 0.5, "n": 3, "headline": False},
    }
    logged = result.as_dict("test_")
    assert logged["test_max_chance"] == 0.25 and logged["test_asked"] == 9
    assert logged["test_per_attribute"]["loudness"]["chance"] == 0.5


def test_without_max_chance_every_item_is_in_the_headline():
    result = ranking_accuracy(Ranker(), Items(ROWS))
    assert result.n == result.asked == 9 and result.max_chance is None
    assert result.accuracy == pytest.approx(6 / 9)
    assert result.chance == pytest.approx((6 * 0.25 + 3 * 0.5) / 9)
    assert all(s["headline"] for s in result.per_attribute.values())
    # nothing at or under the limit: the headline is every item, not an empty one
    only_loudness = ranking_accuracy(Ranker(), Items(ROWS[6:]), max_chance=0.25)
    assert (only_loudness.n, only_loudness.chance) == (3, 0.5)


def test_eval_set_parts_carry_max_chance():
    dataset = EvalSet([Items(ROWS[:6]), None, Items(ROWS[6:])], max_chance=0.25)
    assert len(dataset) == 9 and dataset.item(7).task == "classify:loudness"
    with pytest.raises(IndexError):
        dataset.item(9)
    result = ranking_accuracy(Ranker(), dataset)  # the dataset's max_chance
    assert result.n == 6 and result.per_attribute["loudness"]["headline"] is False


def test_the_recipes_eval_set_asks_every_attribute():
    recipe = tiny_recipe("audio")
    audio = get_modality("audio")
    assert recipe.eval.max_chance == 0.25  # the tiny recipes' default, now documented
    assert {a: len(v) for a, v in audio.attributes.items()}["loudness"] == 2
    assert eval_tasks(recipe, audio) == ("classify:count",)
    assert other_eval_tasks(recipe, audio) == ("classify:kind", "classify:loudness",
                                               "classify:pitch")
    dataset = eval_set(recipe, audio, None, "test", 100, cache=None)
    assert isinstance(dataset, EvalSet) and dataset.max_chance == 0.25
    tasks = [dataset.item(i).task for i in range(len(dataset))]
    # the headline items as before (100 count questions), then 25 per other attribute
    assert tasks[:100] == ["classify:count"] * 100
    assert sorted(set(tasks[100:])) == ["classify:kind", "classify:loudness", "classify:pitch"]
    assert len(tasks) == 175 and tasks.count("classify:loudness") == 25
    loud = next(dataset.item(i) for i in range(len(dataset))
                if dataset.item(i).task == "classify:loudness")
    assert len(loud.candidates) == 2
    # no max_chance: the recipe's tasks, as they are (a copy: tiny_recipe's overrides would
    # reach the built-in default shared by later tests)
    unset = recipe.model_copy(update={"eval": recipe.eval.model_copy(update={"max_chance": None})})
    assert eval_set(unset, audio, None, "val", 4, cache=None).source.tasks == ("classify",)
    assert tiny_recipe("audio").eval.max_chance == 0.25


def test_the_train_table_marks_attributes_outside_the_headline(capsys):
    from xalign.cli.train import _print_ranking

    _print_ranking("test", ranking_accuracy(Ranker(), Items(ROWS), max_chance=0.25))
    out = " ".join(capsys.readouterr().out.split())
    assert "loudness (not in headline) │ 0.0% │ 50.0% │ 3" in out
    assert "headline (chance <= 25%) │ 100.0% │ 25.0% │ 6" in out


@pytest.mark.slow
def test_a_training_run_reports_the_two_value_attribute(tmp_path, monkeypatch, capsys):
    from xalign.cli.main import main

    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", [
        "xalign", "train", "--modality", "audio", "--out", str(run), "--no-progress",
        "schedule.max_steps=2", "schedule.batch_size=2", "data.sources.0.size=8",
        "eval.val_size=0", "eval.test_size=8", f"cache.dir={tmp_path / 'cache'}",
        "checkpoint.every=0"])
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    assert "loudness │ " in out and "(chance 50.0%, 2 items; above eval.max_chance 25%" in out
    test = json.loads((run / "summary.json").read_text())["test"]
    assert test["max_chance"] == 0.25 and test["n"] == 8 and test["asked"] == 14
    assert test["per_attribute"]["loudness"] == {**test["per_attribute"]["loudness"],
                                                 "chance": 0.5, "n": 2, "headline": False}
    assert test["per_attribute"]["count"]["headline"] is True
