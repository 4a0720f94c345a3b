"""Video preprocessing: uniform frames, each exactly the image preprocessing, one crop per clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from xalign_plugin_image.preprocess import preprocess as preprocess_image
from xalign_plugin_video import set_num_frames
from xalign_plugin_video.preprocess import preprocess


def _clip(count: int = 16, side: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, side, side + 16, 3), dtype=np.uint8)


def test_eval_frames_are_image_preprocessed_uniform_samples() -> None:
    clip = _clip()
    out = preprocess(clip, train=False)
    assert out.shape == (5, 3, 224, 224) and out.dtype == torch.float32
    for position, index in enumerate([1, 4, 8, 11, 14]):
        torch.testing.assert_close(out[position], preprocess_image(clip[index], train=False)[0])


def test_list_of_images_equals_array() -> None:
    clip = _clip(5)
    as_list = preprocess([Image.fromarray(f) for f in clip], train=False)
    torch.testing.assert_close(as_list, preprocess(clip, train=False))


def test_train_crop_is_shared_by_all_frames_of_a_clip() -> None:
    still = np.repeat(_clip(1), 16, axis=0)  # the same picture in every frame
    torch.manual_seed(0)
    first = preprocess(still, train=True)
    second = preprocess(still, train=True)
    for frame in first[1:]:
        torch.testing.assert_close(frame, first[0])  # one crop for the clip
    assert not torch.equal(first, second)  # a new crop for the next clip
    assert not torch.equal(first, preprocess(still, train=False))


def test_frame_count_follows_configuration() -> None:
    set_num_frames(4)
    try:
        assert preprocess(_clip(), train=False).shape == (4, 3, 224, 224)
    finally:
        set_num_frames(None)
    assert preprocess(_clip(2), train=False).shape == (5, 3, 224, 224)  # short clip repeats


@pytest.mark.parametrize("bad", [np.zeros((0, 8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8),
                                 [], ["a.png"], "clip.mp4",
                                 [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)]])
def test_rejects_bad_clips(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        preprocess(bad, train=False)
