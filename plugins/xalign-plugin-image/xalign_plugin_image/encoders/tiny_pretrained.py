"""The pretrained tiny image encoder: conv patches -> 2 Transformer layers -> 8 tokens.

An image ``[N, 3, 224, 224]`` (the plugin's :func:`~xalign_plugin_image.preprocess.preprocess`
output) is halved, then cut into 7 × 7 patch tokens (32 pixels of the input each) by two
strided convolutions; a small Transformer (128 channels) and an attention pool of 8 learned
queries give ``[N, 8, 256]``.
The weights come from the generic contrastive pretraining (:mod:`xalign.encoders.pretrain`,
``xalign encoders pretrain --modality image``) and ship in ``weights/tiny-pretrained`` with
their model card. The video plugin's pretrained encoder is this architecture, trained on video.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from xalign.encoders import FrozenEncoder
from xalign.encoders.pretrain import PretrainConfig, PretrainSpec
from xalign.encoders.tiny_pretrained import TokenEncoder, build_frozen
from xalign_plugin_image.preprocess import IMAGE_SIZE, preprocess
from xalign_plugin_image.synthetic import synthesize

FEATURE_DIM = 256
TOKENS_PER_FRAME = 8
WIDTH = 128  # inside the network; the attention pool maps to FEATURE_DIM
PATCH = 32  # pixels of the 224 input per token: 7 x 7 tokens (16: 4x the cost, on a CPU)
ENCODER_ID = "xalign-image-tiny-pretrained-2"
WEIGHTS_DIR = Path(__file__).parent / "weights" / "tiny-pretrained"


class ConvPatches(nn.Module):
    """``[N, 3, H, W]`` -> ``[N, (H/32)·(W/32), width]``, row-major."""

    def __init__(self, width: int = WIDTH, hidden: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.AvgPool2d(2),  # 224 -> 112: the synthetic shapes are 28 px and up
            nn.Conv2d(3, hidden, kernel_size=4, stride=4), nn.GELU(),
            nn.Conv2d(hidden, width, kernel_size=4, stride=4),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected images [N, 3, H, W], got {tuple(images.shape)}")
        return self.stem(images).flatten(2).transpose(1, 2)


def build_architecture() -> TokenEncoder:
    """The untrained network (what pretraining starts from)."""
    return TokenEncoder(ConvPatches(), WIDTH, (IMAGE_SIZE // PATCH) ** 2, TOKENS_PER_FRAME,
                        dim=FEATURE_DIM)


def build_pretrained_tiny_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """``Tensor[N, 3, 224, 224]`` -> ``Tensor[N, 8, 256]``; ``source``: a folder with
    ``model.safetensors`` (default: the shipped weights)."""
    return build_frozen(build_architecture, source or WEIGHTS_DIR, ENCODER_ID)


PRETRAIN = PretrainSpec(
    modality="image", encoder_id=ENCODER_ID, synthesize=synthesize, preprocess=preprocess,
    build=build_architecture, weights_dir=WEIGHTS_DIR,
    config=PretrainConfig(steps=4000, batch_size=32, lr=1e-3),  # v1: 300 (position 0.57)
)
