"""Video encoders are the image encoders, applied to each frame ("frames as images").

Pretrained towers (``source`` given) encode each frame alone, as X-InstructBLIP does.
The built-in tiny encoder runs the seeded tiny image network on each frame (its pooled
token, same weights as the image plugin's) and adds the clip's motion: the last frame's
token minus the first frame's, the same for every frame (``[F, 2, 256]``). A random
network cannot compare frames, and a projector trained for minutes through a frozen LLM
does not learn to either; a frame difference (as in two-stream and RGB-diff video
models) makes the direction of motion readable. It expects the frames of one clip per
call, which is how ``featurize`` calls encoders.
"""

from __future__ import annotations

import torch
from torch import nn
from xalign_plugin_image.encoders import ENCODERS, TINY_DIM
from xalign_plugin_image.encoders import build_encoder as build_image_encoder
from xalign_plugin_image.encoders.tiny import build_tiny_backbone

from xalign.encoders import FrozenEncoder

TINY_ID = "xalign-video-tiny-2"


class FramesWithMotion(nn.Module):
    """``[F, 3, H, W]`` frames of one clip -> per frame: its pooled token ‖ the clip's motion."""

    def __init__(self, frame_encoder: nn.Module) -> None:
        super().__init__()
        self.frame_encoder = frame_encoder

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        pooled = self.frame_encoder(frames)  # [F, 1, d]
        motion = (pooled[-1] - pooled[0]).expand_as(pooled)
        return torch.cat([pooled, motion], dim=1)


def build_tiny_encoder() -> FrozenEncoder:
    """The seeded tiny video encoder: ``Tensor[F, 3, 224, 224]`` -> ``Tensor[F, 2, 256]``."""
    return FrozenEncoder(FramesWithMotion(build_tiny_backbone()), TINY_DIM, TINY_ID)


def build_encoder(source: str | None = None) -> FrozenEncoder:
    """``None`` / ``"tiny"`` / :data:`TINY_ID`: the tiny video encoder; anything else:
    the image plugin's encoder of that name, applied to each frame."""
    if source in (None, "tiny", TINY_ID):
        return build_tiny_encoder()
    return build_image_encoder(source)


__all__ = ["ENCODERS", "TINY_DIM", "TINY_ID", "build_encoder", "build_tiny_encoder"]
