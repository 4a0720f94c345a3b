"""The tiny encoder's input exactly as DESIGN §2: 224×224, random crop at train time, CLIP norm.

Evaluation resizes the whole image to 224×224 (bicubic, aspect ratio not
kept), as the BLIP-2 / InstructBLIP evaluation processor does. Training first
takes a random crop whose width and height are each a uniform fraction in
:data:`TRAIN_CROP_RANGE` of the image's, at a random offset, then resizes that
crop to 224×224. The range is milder than LAVIS's RandomResizedCrop (area down
to 50%) so that a crop rarely cuts a synthetic object away, and there is no
horizontal flip, which would swap "left" and "right" in captions.

Pretrained towers use their own processors' transforms (:mod:`.transforms`); other
plugins call :func:`xalign_plugin_image.transforms.preprocess_frames`, which shares one
crop across the frames of a clip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from xalign_plugin_image.loading import to_rgb

IMAGE_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TRAIN_CROP_RANGE = (0.85, 1.0)

Box = tuple[float, float, float, float]  # left, upper, right, lower in pixels

# pixel/255 normalised as one multiply-add per channel, in numpy: torch's element-wise ops
# on small tensors cost far more here (thread start-up)
_SCALE = (1.0 / (255.0 * np.asarray(CLIP_STD))).astype(np.float32)
_SHIFT = (-np.asarray(CLIP_MEAN) / np.asarray(CLIP_STD)).astype(np.float32)


def crop_box(size: tuple[int, int], train: bool,
             generator: torch.Generator | None = None) -> Box:
    """The region of an image of ``size`` (width, height) that becomes the 224×224 input.

    Random draws use torch's RNG (``generator`` or the global one), so
    ``torch.manual_seed`` makes train-time preprocessing reproducible.
    """
    width, height = size
    if not train:
        return (0.0, 0.0, float(width), float(height))
    low, high = TRAIN_CROP_RANGE
    u = torch.rand(4, generator=generator).tolist()
    crop_w = width * (low + (high - low) * u[0])
    crop_h = height * (low + (high - low) * u[1])
    left = (width - crop_w) * u[2]
    upper = (height - crop_h) * u[3]
    return (left, upper, left + crop_w, upper + crop_h)


def as_image(raw: Any) -> Image.Image:
    """Accept a PIL image (any mode) or a uint8 array ``[H, W]`` / ``[H, W, 3|4]``."""
    if isinstance(raw, Image.Image):
        return raw if raw.mode == "RGB" else to_rgb(raw)
    if isinstance(raw, np.ndarray):
        if raw.dtype != np.uint8 or raw.ndim not in (2, 3) or (
            raw.ndim == 3 and raw.shape[2] not in (3, 4)
        ):
            raise ValueError(
                f"expected a uint8 array [H, W] or [H, W, 3|4], got {raw.dtype} {raw.shape}"
            )
        return to_rgb(Image.fromarray(np.ascontiguousarray(raw)))
    raise TypeError(f"expected a PIL image or a numpy array, got {type(raw).__name__}")


def image_to_tensor(image: Image.Image, box: Box) -> torch.Tensor:
    """Crop ``box`` out of an RGB ``image``, resize to 224×224 (bicubic), CLIP-normalise.

    Returns ``Tensor[3, 224, 224]`` float32.
    """
    resized = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC, box=box)
    pixels = np.asarray(resized, dtype=np.float32) * _SCALE + _SHIFT
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def preprocess(raw: Any, train: bool = False) -> torch.Tensor:
    """One image -> the encoder input ``Tensor[1, 3, 224, 224]``."""
    image = as_image(raw)
    return image_to_tensor(image, crop_box(image.size, train)).unsqueeze(0)
