"""Image preprocessing against DESIGN §2: 224×224, CLIP normalisation, RGB order, train crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from xalign_plugin_image.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    TRAIN_CROP_RANGE,
    crop_box,
    preprocess,
)


def _expected(rgb: tuple[int, int, int]) -> torch.Tensor:
    values = zip(rgb, CLIP_MEAN, CLIP_STD, strict=True)
    return torch.tensor([(v / 255 - m) / s for v, m, s in values])


def test_shape_dtype_and_clip_normalisation() -> None:
    colour = (200, 100, 30)
    out = preprocess(Image.new("RGB", (300, 180), colour), train=False)
    assert out.shape == (1, 3, 224, 224) and out.dtype == torch.float32
    expected = _expected(colour).view(3, 1, 1).expand(3, 224, 224)
    torch.testing.assert_close(out[0], expected, atol=1e-5, rtol=0)


def test_rgb_channel_order() -> None:
    out = preprocess(Image.new("RGB", (32, 32), (255, 0, 0)), train=False)[0]
    means = out.mean(dim=(1, 2))
    assert means[0] > 1.5 and means[1] < -1.5 and means[2] < -1.4


def test_eval_resizes_the_whole_image_without_crop() -> None:
    # 100x50 image: left 10 columns red, rest blue; aspect ratio is not kept, nothing is cut
    pixels = np.zeros((50, 100, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)
    pixels[:, 10:] = (0, 0, 255)
    out = preprocess(pixels, train=False)[0]
    red_columns = (out[0] > 1.0).all(dim=0)  # columns whose every row is red
    assert red_columns[:20].all() and not red_columns[26:].any()  # 10/100 of 224 = 22.4
    torch.testing.assert_close(out, preprocess(pixels, train=False)[0])  # deterministic


def test_train_crop_is_random_reproducible_and_bounded() -> None:
    gradient = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    torch.manual_seed(0)
    first = preprocess(gradient, train=True)
    second = preprocess(gradient, train=True)
    torch.manual_seed(0)
    again = preprocess(gradient, train=True)
    assert first.shape == (1, 3, 224, 224)
    assert not torch.equal(first, second)
    torch.testing.assert_close(first, again)
    low = TRAIN_CROP_RANGE[0]
    generator = torch.Generator().manual_seed(1)
    for _ in range(200):
        left, upper, right, lower = crop_box((400, 300), train=True, generator=generator)
        assert left >= 0 and upper >= 0 and right <= 400 and lower <= 300
        assert low * 400 <= right - left <= 400 and low * 300 <= lower - upper <= 300


def test_train_crop_never_flips() -> None:
    # a flip would swap "left" and "right" in synthetic captions
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :16] = 255
    torch.manual_seed(3)
    for _ in range(20):
        out = preprocess(pixels, train=True)[0, 0]
        assert out[:, :30].mean() > out[:, -30:].mean()


def test_accepts_pil_modes_and_arrays() -> None:
    grey = np.full((40, 40), 77, np.uint8)
    a = preprocess(Image.fromarray(grey), train=False)
    b = preprocess(grey, train=False)
    c = preprocess(np.stack([grey] * 3, axis=-1), train=False)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent: white after compositing
    torch.testing.assert_close(preprocess(rgba, train=False)[0, :, 0, 0], _expected((255,) * 3))


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((2, 8, 8, 3), np.uint8),
                                 "image.png", torch.zeros(3, 8, 8)])
def test_rejects_other_inputs(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        preprocess(bad, train=False)
