"""3D synthetic world: deterministic solids on a base plate, captions, quantities, write/load."""

from __future__ import annotations

import re

import numpy as np
import pytest
from xalign_plugin_3d import synthetic
from xalign_plugin_3d.loading import load
from xalign_plugin_3d.synthetic import ATTRIBUTES, synthesize, write

SAMPLES = [synthesize(seed) for seed in range(60)]


def test_same_seed_same_sample_and_seeds_differ():
    a, b = synthesize(11), synthesize(11)
    assert np.array_equal(a.raw, b.raw) and a.caption == b.caption
    assert a.attributes == b.attributes and a.quantities == b.quantities
    assert not np.array_equal(a.raw, synthesize(12).raw)


def test_every_value_occurs_and_captions_mention_every_attribute():
    for name, vocab in ATTRIBUTES.items():
        assert 2 <= len(vocab) <= 5
        assert {s.attributes[name] for s in SAMPLES} == set(vocab)
    for s in SAMPLES:
        assert set(s.attributes) == set(ATTRIBUTES)
        for name, value in s.attributes.items():
            assert re.search(rf"\b{value}\b", s.caption), (name, s.caption)
            others = set(ATTRIBUTES[name]) - {value}
            assert not any(re.search(rf"\b{o}\b", s.caption) for o in others), s.caption


def test_points_are_finite_and_stand_on_the_square_base():
    for s in SAMPLES[:10]:
        raw = s.raw
        assert raw.shape == (8192, 3) and raw.dtype == np.float32 and np.isfinite(raw).all()
        plate = raw[synthetic.OBJECT_POINTS:]
        assert np.abs(plate[:, 1]).max() == 0 and np.abs(plate[:, [0, 2]]).max() <= 1.0
        solid = raw[: synthetic.OBJECT_POINTS]
        assert solid[:, 1].min() > -1e-5  # nothing below the plate


def test_quantities_agree_with_attributes_and_geometry():
    for s in SAMPLES:
        assert set(s.quantities) == {"size", "height"}
        assert all(0.0 <= v <= 1.0 for v in s.quantities.values())
        assert (s.quantities["size"] < 0.5) == (s.attributes["size"] == "small")
        solid = s.raw[: synthetic.OBJECT_POINTS]
        height = solid[:, 1].max() - solid[:, 1].min()
        # sampled points fall a little short of a cone's apex: 5 % slack
        assert abs(s.quantities["height"] * synthetic._H_MAX - height) < 0.05 * height
        width = np.linalg.norm(solid[:, [0, 2]], axis=1).max() * 2
        if s.attributes["shape"] != "cube":  # a turned cube's corners reach farther
            assert abs(width - synthetic._W_MIN - s.quantities["size"] *
                       (synthetic._W_MAX - synthetic._W_MIN)) < 0.02


def test_tall_is_taller_than_flat_for_the_same_solid():
    by_aspect = {}
    for s in SAMPLES:
        if s.attributes["shape"] != "torus":
            ratio = s.quantities["height"] * synthetic._H_MAX / (
                synthetic._W_MIN + s.quantities["size"] * (synthetic._W_MAX - synthetic._W_MIN))
            by_aspect.setdefault(s.attributes["aspect"], []).append(ratio)
    assert max(by_aspect["flat"]) < min(by_aspect["regular"])
    assert max(by_aspect["regular"]) < min(by_aspect["tall"])


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_unit_solids_lie_on_their_surfaces(shape):
    p = synthetic._SAMPLERS[shape](np.random.default_rng(0), 2000)
    x, y, z = p.T
    r = np.hypot(x, z)
    if shape == "sphere":
        on = np.isclose(np.linalg.norm(p, axis=1), 0.5)
    elif shape == "cube":
        on = np.isclose(np.abs(p).max(axis=1), 0.5)
    elif shape == "cylinder":
        on = np.isclose(r, 0.5) | (np.isclose(np.abs(y), 0.5) & (r <= 0.5))
    elif shape == "cone":
        on = np.isclose(r, 0.5 * (0.5 - y)) | (np.isclose(y, -0.5) & (r <= 0.5))
    else:
        on = np.isclose(np.hypot(r - synthetic._TORUS_R, y), synthetic._TORUS_TUBE)
    assert on.all()
    assert np.abs(p).max() <= 0.5 + 1e-9


def test_write_round_trips_through_the_loader(tmp_path):
    s = synthesize(5)
    path = write(s.raw, tmp_path / "sub" / "item.ply")
    assert path.suffix == ".npy" and path.exists()
    np.testing.assert_array_equal(load(path), s.raw)
