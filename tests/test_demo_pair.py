"""The demo's pair: modalities whose mini-DisCRn needs both inputs perceived."""

from xalign.registry import get_registry
from xalign.train.demo import demo_modalities, shared_values


def test_shared_values_are_attributes_both_could_have():
    registry = get_registry()
    image, video, three_d = (registry.get(m) for m in ("image", "video", "3d"))
    assert shared_values(image, video) == {"colour": {"red", "green", "blue", "yellow"}}
    # both have a shape, but no cube is a square: "which one is a cube?" needs no perception
    assert shared_values(image, three_d) == {}


def test_the_demo_pair_shares_values_and_uses_stand_in_encoders():
    registry = get_registry()
    pair = demo_modalities()
    assert len(pair) == 2
    assert shared_values(*(registry.get(m) for m in pair))
    assert all(registry.encoder(m).stand_in for m in pair)
    assert demo_modalities(every=True) == registry.names()


def test_video_trains_after_image_and_starts_from_its_projector(tmp_path):
    from xalign.train.defaults import default_recipe
    from xalign.train.demo import WARM_START_STEPS, training_order, warm_start

    assert get_registry().get("video").starts_from == "image"
    assert training_order(["video", "image"]) == ["image", "video"]
    assert training_order(["video", "audio"]) == ["video", "audio"]  # image not trained here
    recipe = default_recipe("video")
    start = warm_start("video", {"image": ("qformer", tmp_path / "image")}, recipe)
    assert start == [f"projector.init_from={tmp_path / 'image' / 'projector'}",
                     f"schedule.max_steps={WARM_START_STEPS}"]
    warmed = default_recipe("video", start)
    assert warmed.projector.init_from == str(tmp_path / "image" / "projector")
    assert warmed.schedule.max_steps == WARM_START_STEPS < recipe.schedule.max_steps
    # no warm start from a projector of another kind, nor from one not trained here
    assert warm_start("video", {"image": ("linear", tmp_path)}, recipe) == []
    assert warm_start("video", {}, recipe) == []
    assert warm_start("image", {"video": ("qformer", tmp_path)}, default_recipe("image")) == []


def test_a_modality_cannot_start_from_itself_or_a_bad_name():
    from dataclasses import replace

    import pytest

    video = get_registry().get("video")
    for bad in ("video", "Not A Name"):
        with pytest.raises(ValueError, match="starts_from"):
            replace(video, starts_from=bad)
