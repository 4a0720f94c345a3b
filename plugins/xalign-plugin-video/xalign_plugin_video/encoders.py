"""Video encoders are the image encoders, applied to each frame ("frames as images").

Pretrained towers encode each frame alone, as X-InstructBLIP does (the image plugin's
published :func:`xalign_plugin_image.build_tower`). The built-in tiny encoder runs the
seeded tiny image network on each frame (its pooled token, same weights as the image
plugin's) and adds the clip's motion: the last frame's token minus the first frame's, the
same for every frame (``[F, 2, 256]``). A random network cannot compare frames, and a
projector trained for minutes through a frozen LLM does not learn to either; a frame
difference (as in two-stream and RGB-diff video models) makes the direction of motion
readable. It expects the frames of one clip per call, which is how ``featurize`` calls
encoders.
"""

from __future__ import annotations

import torch
from torch import nn
from xalign_plugin_image import TINY_DIM, build_tiny_backbone

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import CheckpointError

TINY_ID = "xalign-video-tiny-2"  # the id projectors saved before encoders were registered


class FramesWithMotion(nn.Module):
    """``[F, 3, H, W]`` frames of one clip -> per frame: its pooled token ‖ the clip's motion."""

    def __init__(self, frame_encoder: nn.Module) -> None:
        super().__init__()
        self.frame_encoder = frame_encoder

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        pooled = self.frame_encoder(frames)  # [F, 1, d]
        motion = (pooled[-1] - pooled[0]).expand_as(pooled)
        return torch.cat([pooled, motion], dim=1)


def build_tiny_encoder(source: str | None = None) -> FrozenEncoder:
    """The seeded tiny video encoder: ``Tensor[F, 3, 224, 224]`` -> ``Tensor[F, 2, 256]``."""
    if source is not None:
        raise CheckpointError(f"the tiny video encoder is built from a seed, not {source!r}")
    return FrozenEncoder(FramesWithMotion(build_tiny_backbone()), TINY_DIM, TINY_ID)


__all__ = ["TINY_DIM", "TINY_ID", "build_tiny_encoder"]
