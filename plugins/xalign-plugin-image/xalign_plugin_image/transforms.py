"""Reference image transforms of the pretrained towers, on the PIL path (no torchvision).

Equal to the towers' own transformers image processors (see :mod:`.towers` and
``tests/test_image_parity.py``). The video plugin calls :func:`preprocess_frames`, the
published per-frame transform, for any encoder id of this plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from xalign_plugin_image.preprocess import as_image, crop_box, image_to_tensor
from xalign_plugin_image.towers import TOWERS, Transform


def apply(image: Image.Image, transform: Transform) -> torch.Tensor:
    """One RGB image -> ``Tensor[3, crop, crop]`` exactly as the tower's processor makes it."""
    width, height = image.size
    if transform.square:
        size = (transform.resize, transform.resize)
    else:  # shortest edge to `resize`, the other scaled and truncated as transformers does
        short, long = (width, height) if width <= height else (height, width)
        other = int(transform.resize * long / short)
        size = (transform.resize, other) if width <= height else (other, transform.resize)
    resized = image.resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32)
    top = (pixels.shape[0] - transform.crop) // 2
    left = (pixels.shape[1] - transform.crop) // 2
    if top < 0 or left < 0:
        raise ValueError(f"image resized to {size} is smaller than the {transform.crop}² crop")
    pixels = pixels[top:top + transform.crop, left:left + transform.crop]
    mean = np.asarray(transform.mean, dtype=np.float32)
    std = np.asarray(transform.std, dtype=np.float32)
    pixels = (pixels * np.float32(1 / 255) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def preprocess_frames(encoder_id: str, frames: Sequence[Any], train: bool = False
                      ) -> torch.Tensor:
    """Frames of one item (PIL images or uint8 arrays) -> ``Tensor[F, 3, S, S]`` for the
    encoder ``encoder_id`` of this plugin (``"tiny"`` or a tower of :data:`TOWERS`).

    At train time one random crop (DESIGN §2) is drawn per call and shared by every
    frame, so motion inside a clip is not disturbed by per-frame jitter; evaluation
    keeps the whole image.
    """
    images = [as_image(frame) for frame in frames]
    sizes = {image.size for image in images}
    if len(sizes) != 1:
        raise ValueError(f"all frames of a clip must have one size, got {sorted(sizes)}")
    box = crop_box(images[0].size, train)
    if encoder_id == "tiny":
        return torch.stack([image_to_tensor(image, box) for image in images])
    transform = TOWERS[encoder_id].transform
    if train:
        images = [image.crop(tuple(round(v) for v in box)) for image in images]
    return torch.stack([apply(image, transform) for image in images])


def preprocess_for(encoder_id: str, raw: Any, train: bool = False) -> torch.Tensor:
    """One image -> ``Tensor[1, 3, S, S]`` for the tower ``encoder_id``."""
    return preprocess_frames(encoder_id, [raw], train)
