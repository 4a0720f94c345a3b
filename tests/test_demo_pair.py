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


def test_the_demo_caps_longer_recipes_and_says_so(monkeypatch, tmp_path):
    from rich.console import Console

    from xalign.train import demo
    from xalign.train.defaults import default_recipe

    trained = {}
    monkeypatch.setattr(demo, "_train_in_turn",
                        lambda recipes, out, console, show: trained.update(recipes) or {})
    monkeypatch.setattr(demo, "results_table", lambda results, seconds: "")
    own = default_recipe("image").schedule.max_steps
    cap = own // 2
    console = Console(record=True, width=200)
    demo.run_demo(console, ["image"], tmp_path, side_by_side=False, max_steps=cap)
    assert trained["image"].schedule.max_steps == cap
    assert f"image {own}" in console.export_text()
    demo.run_demo(console, ["image"], tmp_path, side_by_side=False, max_steps=own)  # not longer
    assert trained["image"].schedule.max_steps == own
    demo.run_demo(console, ["image"], tmp_path, overrides=[f"schedule.max_steps={own + 1}"],
                  side_by_side=False, max_steps=cap)  # the caller's steps win
    assert trained["image"].schedule.max_steps == own + 1
    assert "caps" not in console.export_text()
