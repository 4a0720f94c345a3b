"""3D preprocessing (DESIGN §2): FPS to 8,192 points, unit sphere, padding, bad clouds."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from xalign_plugin_3d.geometry import (
    farthest_point_sample,
    farthest_point_sample_torch,
    normalize_unit_sphere,
)
from xalign_plugin_3d.preprocess import NUM_POINTS, preprocess

from xalign.errors import MediaError


def _cloud(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) * [3.0, 1.0, 0.5] + [10.0, -4.0, 2.0]


def _naive_fps(points: np.ndarray, k: int, start: int) -> list[int]:
    """Textbook FPS, written for clarity: the reference for both fast versions."""
    chosen = [start]
    while len(chosen) < k:
        d = np.linalg.norm(points[:, None, :] - points[None, chosen, :], axis=-1).min(axis=1)
        chosen.append(int(d.argmax()))
    return chosen


def _check_unit_sphere(x: torch.Tensor) -> None:
    assert x.shape == (1, NUM_POINTS, 3) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert torch.allclose(x[0].mean(0), torch.zeros(3), atol=1e-5)
    assert abs(x[0].norm(dim=1).max().item() - 1.0) < 1e-5


def test_fps_matches_the_textbook_definition_in_numpy_and_torch():
    points, _ = normalize_unit_sphere(_cloud(400))
    want = _naive_fps(points, 40, start=5)
    assert farthest_point_sample(points, 40, start=5).tolist() == want
    got = farthest_point_sample_torch(torch.tensor(points[None]), 40, torch.tensor([5]))
    assert got[0].tolist() == want


def test_batched_torch_fps_handles_each_cloud_separately():
    a, b = (normalize_unit_sphere(_cloud(300, s))[0] for s in (1, 2))
    batch = torch.tensor(np.stack([a, b]), dtype=torch.float32)
    got = farthest_point_sample_torch(batch, 30)
    assert got[0].tolist() == farthest_point_sample(a, 30, 0).tolist()
    assert got[1].tolist() == farthest_point_sample(b, 30, 0).tolist()


def test_fps_skips_points_near_the_origin_like_the_cuda_kernel():
    # points 1 and 4 lie within |p|^2 <= 1e-3 of the origin
    points = torch.tensor([[[0.9, 0, 0], [0.01, 0, 0], [-0.9, 0, 0], [0, 0.5, 0], [0, 0, 0.02]]])
    assert farthest_point_sample_torch(points, 4)[0].tolist() == [0, 2, 3, 4]
    # the kernel never picks them: once the others are taken it repeats index 0
    assert farthest_point_sample_torch(points, 4, skip_near_origin=True)[0].tolist() == [0, 2, 3, 0]


def test_large_cloud_is_sampled_to_8192_points_of_the_cloud():
    raw = _cloud(20_000)
    x = preprocess(raw, train=False)
    _check_unit_sphere(x)
    assert torch.equal(x, preprocess(raw, train=False))  # deterministic at eval
    # every output point is an input point after the same similarity transform
    src = torch.tensor(normalize_unit_sphere(raw)[0], dtype=torch.float32)
    out = x[0]
    scale = (src - src.mean(0)).norm(dim=1).max() / (out - out.mean(0)).norm(dim=1).max()
    mapped = (out - out.mean(0)) * scale
    nearest = torch.cdist(mapped[:500], src - src.mean(0)).min(dim=1).values
    assert nearest.max() < 0.05  # the subset's centroid moved a little; rows are still points
    assert len(torch.unique(out, dim=0)) == NUM_POINTS  # no point chosen twice


def test_eval_sampling_does_not_depend_on_point_order():
    raw = _cloud(12_000, seed=3)
    perm = np.random.default_rng(0).permutation(len(raw))
    a, b = preprocess(raw)[0], preprocess(raw[perm])[0]
    order = lambda t: t[torch.argsort(t[:, 0] * 1e6 + t[:, 1] * 1e3 + t[:, 2])]  # noqa: E731
    assert torch.allclose(order(a), order(b), atol=1e-5)


def test_train_sampling_starts_at_a_random_point():
    raw = _cloud(9_000, seed=4)
    torch.manual_seed(0)
    a = preprocess(raw, train=True)
    torch.manual_seed(1)
    b = preprocess(raw, train=True)
    _check_unit_sphere(a)
    _check_unit_sphere(b)
    assert not torch.equal(a, b)


def test_fps_speed_20k_to_8192():
    raw = _cloud(20_000)
    best = min(_timed(lambda: preprocess(raw)) for _ in range(2))
    print(f"\npreprocess 20k -> 8192 (FPS): {best * 1000:.0f} ms")
    assert best < 1.5  # ~0.2 s on an idle core; slack for a shared machine


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_small_cloud_is_padded_by_repetition_and_colour_dropped():
    raw = np.concatenate([_cloud(100), np.random.default_rng(1).uniform(size=(100, 3))], axis=1)
    x = preprocess(raw)
    assert x.shape == (1, NUM_POINTS, 3)
    assert torch.equal(x[0, :100], x[0, 100:200]) and torch.equal(x[0, :92], x[0, 8100:8192])
    assert torch.equal(x, preprocess(raw[:, :3]))  # colour channels play no part
    unique = x[0, :100]
    assert torch.allclose(unique.mean(0), torch.zeros(3), atol=1e-5)
    assert abs(unique.norm(dim=1).max().item() - 1.0) < 1e-5


def test_exactly_8192_points_keep_their_order():
    raw = _cloud(NUM_POINTS)
    x = preprocess(torch.tensor(raw))  # tensors are accepted too
    want, _ = normalize_unit_sphere(raw)
    assert torch.allclose(x[0], torch.tensor(want, dtype=torch.float32), atol=1e-6)


def test_collinear_cloud_is_fine():
    line = np.linspace(0, 1, 10_000)[:, None] * [1.0, 2.0, 3.0]
    _check_unit_sphere(preprocess(line))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (np.array([[0.0, 0, 0], [np.nan, 1, 0], [1, 1, 1]]), "nan"),
        (np.array([[0.0, 0, 0], [np.inf, 1, 0], [1, 1, 1]]), "infinite"),
        (np.zeros((1, 3)), "at least 3"),
        (np.array([[0.0, 0, 0], [1, 1, 1]]), "at least 3"),
        (np.full((100, 3), 2.5), "degenerate"),
        (np.zeros((5, 2)), "shape"),
    ],
)
def test_bad_clouds_raise_media_error(raw, reason):
    with pytest.raises(MediaError, match=f"(?i){reason}"):
        preprocess(raw)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 200), st.just(3)),
              elements=st.floats(-1e6, 1e6, allow_nan=False, width=32)))
def test_any_cloud_is_rejected_or_lands_exactly_in_the_unit_sphere(raw):
    try:
        x = preprocess(raw)
    except MediaError as exc:
        assert "degenerate" in str(exc)
        assert (raw == raw[0]).all()
        return
    assert x.shape == (1, NUM_POINTS, 3) and torch.isfinite(x).all()
    kept = x[0, : len(raw)]  # the points before padding
    assert torch.allclose(kept.mean(0), torch.zeros(3), atol=1e-4)
    assert abs(kept.norm(dim=1).max().item() - 1.0) < 1e-5
