"""Video preprocessing (DESIGN §2): ``num_frames()`` uniform frames, each processed as an image.

Each frame goes through the image plugin's published per-frame transform of the chosen
encoder (:func:`xalign_plugin_image.preprocess_frames`: 224×224 with CLIP normalisation for
the tiny encoder, the tower's own processor transform for a pretrained one). At train time
one random crop is drawn per clip and applied to every frame, so motion inside the clip is
not disturbed by per-frame jitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from xalign_plugin_image import preprocess_frames

from xalign_plugin_video.sampling import frame_indices, num_frames


def preprocess_for(encoder_id: str, raw: Any, train: bool = False) -> torch.Tensor:
    """Frames ``uint8 [F, H, W, 3]`` (or a list of images) -> ``Tensor[num_frames(), 3, S, S]``
    for the image encoder ``encoder_id``.

    A clip with a different number of frames than :func:`num_frames` is
    sampled uniformly (the same indices the loader uses, so a synthetic clip and
    the file written from it give the same frames).
    """
    frames = _as_frame_list(raw)
    picked = [frames[i] for i in frame_indices(len(frames), num_frames())]
    return preprocess_frames(encoder_id, picked, train)


def preprocess(raw: Any, train: bool = False) -> torch.Tensor:
    """The tiny encoder's input ``Tensor[num_frames(), 3, 224, 224]``."""
    return preprocess_for("tiny", raw, train)


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
