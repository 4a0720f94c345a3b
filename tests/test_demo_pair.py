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
