"""Video preprocessing (DESIGN §2): ``num_frames()`` uniform frames, each processed as an image.

Each frame goes through the image plugin's preprocessing (224×224, CLIP
normalisation). At train time one random crop is drawn per clip and applied to
every frame, so motion inside the clip is not disturbed by per-frame jitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from xalign_plugin_image.preprocess import as_image, crop_box, image_to_tensor

from xalign_plugin_video.sampling import frame_indices, num_frames


def preprocess(raw: Any, train: bool = False) -> torch.Tensor:
    """Frames ``uint8 [F, H, W, 3]`` (or a list of images) -> ``Tensor[num_frames(), 3, 224, 224]``.

    A clip with a different number of frames than :func:`num_frames` is
    sampled uniformly (the same indices the loader uses, so a synthetic clip and
    the file written from it give the same frames).
    """
    frames = _as_frame_list(raw)
    picked = [as_image(frames[i]) for i in frame_indices(len(frames), num_frames())]
    sizes = {image.size for image in picked}
    if len(sizes) != 1:
        raise ValueError(f"all frames of a clip must have one size, got {sorted(sizes)}")
    box = crop_box(picked[0].size, train)
    return torch.stack([image_to_tensor(image, box) for image in picked])


def _as_frame_list(raw: Any) -> Sequence[Any]:
    if isinstance(raw, np.ndarray):
        if raw.ndim not in (3, 4):  # [F, H, W] greyscale or [F, H, W, C]
            raise ValueError(f"expected frames [F, H, W, 3], got an array of shape {raw.shape}")
        frames: Sequence[Any] = raw
    elif isinstance(raw, (list, tuple)) and all(
        isinstance(f, (Image.Image, np.ndarray)) for f in raw
    ):
        frames = raw
    else:
        raise TypeError("expected a uint8 array [F, H, W, 3] or a list of frames, got "
                        f"{type(raw).__name__}")
    if len(frames) == 0:
        raise ValueError("a clip with no frames cannot be preprocessed")
    return frames
