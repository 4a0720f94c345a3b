"""Synthetic clips: motion matches the labels, mp4 round-trips, the tiny encoder keeps motion."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from xalign_plugin_video import load, synthesize, write
from xalign_plugin_video.preprocess import preprocess
from xalign_plugin_video.sampling import frame_indices
from xalign_plugin_video.synthetic import ATTRIBUTES, COLOURS, SIDE, SPEED_RANGES

from tests.test_image_synthetic import encode_all, ridge_cv
from xalign.errors import MediaError

MOTION_WORDS = {"left": "left", "right": "right", "up": "up", "down": "down"}


def _centres(clip: np.ndarray) -> np.ndarray:
    """Ball centre (x, y) per frame, in pixels, from the pixels that differ from the background."""
    background = clip[0, 0, 0].astype(int)
    centres = []
    for frame in clip:
        ys, xs = np.nonzero(np.abs(frame.astype(int) - background).sum(-1) > 0)
        centres.append((xs.mean(), ys.mean()))
    return np.array(centres)


def test_deterministic_and_varied() -> None:
    a, b, c = synthesize(4), synthesize(4), synthesize(5)
    assert a.raw.shape == (16, SIDE, SIDE, 3) and a.raw.dtype == np.uint8
    assert np.array_equal(a.raw, b.raw) and a.caption == b.caption
    assert not np.array_equal(a.raw, c.raw)


def test_labels_captions_and_quantities() -> None:
    seen: dict[str, Counter] = {name: Counter() for name in ATTRIBUTES}
    for seed in range(80):
        sample = synthesize(seed)
        caption = sample.caption.lower()
        for name, value in sample.attributes.items():
            assert value in ATTRIBUTES[name]
            seen[name][value] += 1
        assert sample.attributes["colour"] in caption
        assert MOTION_WORDS[sample.attributes["direction"]] in caption
        assert ("slow" in caption) == (sample.attributes["speed"] == "slow")
        assert ("fast" in caption or "quick" in caption) == (sample.attributes["speed"] == "fast")
        assert set(sample.quantities) == {"speed", "size", "brightness"}
        assert all(0.0 <= v <= 1.0 for v in sample.quantities.values())
    for name, values in ATTRIBUTES.items():
        assert set(seen[name]) == set(values), name


def test_motion_in_pixels_matches_labels() -> None:
    steps = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for seed in range(40):
        sample = synthesize(seed)
        centres = _centres(sample.raw)  # the ball never leaves the frame: a centre every frame
        velocity = np.diff(centres, axis=0).mean(0)
        dx, dy = steps[sample.attributes["direction"]]
        speed = float(np.hypot(*velocity))
        assert np.sign(np.round(velocity[0], 1)) == dx and np.sign(np.round(velocity[1], 1)) == dy
        low, high = SPEED_RANGES[sample.attributes["speed"]]
        assert low - 0.2 <= speed <= high + 0.2, (seed, speed)
        assert abs(sample.quantities["speed"] - (speed - 1.0) / 4.0) < 0.06
        colours = {tuple(p) for p in sample.raw[0].reshape(-1, 3)}
        assert COLOURS[sample.attributes["colour"]] in colours
        assert abs(sample.quantities["brightness"] - sample.raw.mean() / 255) < 1e-9


def test_write_encodes_h264_that_loads_back(tmp_path: Path) -> None:
    import av

    sample = synthesize(1)
    path = write(sample.raw, tmp_path / "clip")
    assert path.suffix == ".mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.frames == 16
        assert stream.codec_context.pix_fmt == "yuv420p"
    frames = load(path)
    expected = sample.raw[frame_indices(16, 5)]
    assert frames.shape == expected.shape
    assert np.abs(frames.astype(int) - expected).mean() < 3  # lossy, but close
    # chroma subsampling smears colour edges: compare on average, not pixel by pixel
    difference = preprocess(frames, train=False) - preprocess(sample.raw, train=False)
    assert difference.abs().mean() < 0.05


def test_write_pads_odd_sizes_and_refuses_non_frames(tmp_path: Path) -> None:
    odd = np.full((3, 15, 21, 3), 90, np.uint8)
    frames = load(write(odd, tmp_path / "odd"))
    assert frames.shape == (5, 16, 22, 3)
    with pytest.raises(MediaError):
        write(np.zeros((4, 8, 8), np.uint8), tmp_path / "bad")


def test_tiny_encoder_keeps_colour_position_and_motion_linear() -> None:
    """Per frame, where the ball is must be a linear read-out of the (pooled) features;
    direction and speed then follow from two decoded positions."""
    samples = [synthesize(5_000 + i) for i in range(60)]
    picked = frame_indices(16, 5)
    features = encode_all(torch.cat([preprocess(s.raw, train=False) for s in samples]))
    pooled = torch.cat([features.mean(1), features.amax(1)], dim=1)  # [60·5, 512]
    clip_of_frame = torch.arange(len(pooled)) // 5

    truth = torch.tensor(np.stack([_centres(s.raw[picked]) for s in samples]) / SIDE,
                         dtype=torch.float32).reshape(-1, 2)
    decoded = ridge_cv(pooled, truth, groups=clip_of_frame)
    r2 = 1 - ((decoded - truth) ** 2).sum(0) / ((truth - truth.mean(0)) ** 2).sum(0)
    assert (r2 > 0.6).all(), f"ball position R² {r2.tolist()}"

    moved = (decoded.view(-1, 5, 2)[:, -1] - decoded.view(-1, 5, 2)[:, 0]).numpy()
    names = [("right" if dx > 0 else "left") if abs(dx) > abs(dy) else ("down" if dy > 0 else "up")
             for dx, dy in moved]
    direction = np.mean([n == s.attributes["direction"] for n, s in zip(names, samples,
                                                                      strict=True)])
    assert direction >= 0.6, f"direction from decoded positions: {direction:.2f} (chance 0.25)"
    # slow moves at most 2 px/frame, fast at least 3.5: split halfway, over the sampled span
    threshold = (SPEED_RANGES["slow"][1] + SPEED_RANGES["fast"][0]) / 2 * (
        picked[-1] - picked[0]) / SIDE
    fast = np.hypot(moved[:, 0], moved[:, 1]) > threshold
    speed = np.mean(fast == np.array([s.attributes["speed"] == "fast" for s in samples]))
    assert speed >= 0.7, f"speed from decoded positions: {speed:.2f} (chance 0.5)"

    per_clip = pooled.view(len(samples), -1)
    labels = torch.tensor([ATTRIBUTES["colour"].index(s.attributes["colour"]) for s in samples])
    scores = ridge_cv(per_clip, torch.nn.functional.one_hot(labels).float(),
                      groups=torch.arange(len(samples)))
    assert (scores.argmax(1) == labels).float().mean() >= 0.9
