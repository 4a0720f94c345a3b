"""``report_to: [tensorboard]``: the run's metrics are read back from the TensorBoard events."""

from __future__ import annotations

import pytest

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml
from xalign.errors import XalignError
from xalign.train import trackers
from xalign.train.recipe_io import load_recipe, recipe_from_dict


def test_report_to_and_its_old_name_log_with():
    assert recipe_from_dict({"modality": "audio"}).report_to == []
    for key in ("report_to", "log_with"):
        recipe = recipe_from_dict({"modality": "audio", key: ["tensorboard"]})
        assert recipe.report_to == ["tensorboard"]
    assert recipe_from_dict({"modality": "audio", "report_to": "tensorboard"}).report_to == [
        "tensorboard"]
    assert "report_to" in recipe.model_dump()


def test_a_tracker_that_is_not_installed_fails_with_the_pip_line(monkeypatch):
    monkeypatch.setattr(trackers, "installed_trackers", lambda: ["tensorboard"])
    assert trackers.check_trackers(["tensorboard"]) == ["tensorboard"]
    with pytest.raises(XalignError, match="pip install trackio"):
        trackers.check_trackers(["tensorboard", "trackio"])


def test_tensorboard_events_hold_the_logged_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from xalign.train.run import train_recipe

    path = tiny_recipe_yaml(tmp_path / "r.yaml", shared_tiny_llm(), None,
                            schedule={"max_steps": 6, "batch_size": 4, "log_every": 2},
                            checkpoint={"every": 0},
                            eval={"every": 0, "val_size": 6, "test_size": 0},
                            report_to=["tensorboard"])
    recipe = load_recipe(path)
    run = tmp_path / "run"
    train_recipe(recipe, run, show_progress=False)

    (events,) = (run / recipe.name).glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"loss", "lr", "samples_per_s", "val_accuracy"} <= set(tags), tags
    logged = [(e.step, e.value) for e in acc.Scalars("loss")]
    expected = losses(run)
    assert [s for s, _ in logged] == [s for s, _ in expected] == [2, 4, 6]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected], rel=1e-6)  # f32
