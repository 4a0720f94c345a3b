"""The pretrained tiny audio encoder: fbank frame-stack tokens -> 2 Transformer layers -> 16 tokens.

One 5.12 s window ``[N, 512, 128]`` (the plugin's
:func:`~xalign_plugin_audio.preprocess.preprocess` output, one window per row) is cut along time
into 64 tokens of 8 fbank frames (80 ms) by two strided 1-D convolutions over time, all 128 mel
bins as channels; a small Transformer (128 channels) and a strided pool (the mean of each 4
consecutive tokens: 320 ms, in order) give ``[N, 16, 256]``. Version 1 pooled with 8 learned
queries instead; its softmax-weighted means lost how many sounds a clip holds (linear probe
on count 0.68, README). The weights come from the generic contrastive pretraining
(:mod:`xalign.encoders.pretrain`, ``xalign encoders pretrain --modality audio``) and ship
in ``weights/tiny-pretrained`` with their model card.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from xalign.encoders import FrozenEncoder
from xalign.encoders.pretrain import PretrainConfig, PretrainSpec
from xalign.encoders.tiny_pretrained import TokenEncoder, build_frozen
from xalign_plugin_audio.preprocess import WINDOW_FRAMES, preprocess
from xalign_plugin_audio.synthetic import synthesize

FEATURE_DIM = 256
TOKENS_PER_FRAME = 16  # 320 ms each, shorter than the shortest gap between two onsets
FRAMES_PER_TOKEN = 8  # 80 ms: finer than the shortest gap between two events
WIDTH = 128  # inside the network; the strided pool maps to FEATURE_DIM
ENCODER_ID = "xalign-audio-tiny-pretrained-2"
WEIGHTS_DIR = Path(__file__).parent / "weights" / "tiny-pretrained"


class FbankTokens(nn.Module):
    """``[N, frames, bins]`` -> ``[N, frames / 8, width]``: strided convolutions over time."""

    def __init__(self, bins: int = 128, width: int = WIDTH) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(bins, width, kernel_size=4, stride=4), nn.GELU(),
            nn.Conv1d(width, width, kernel_size=2, stride=2),
        )

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        if fbank.ndim != 3:
            raise ValueError(f"expected fbank windows [N, frames, bins], got {tuple(fbank.shape)}")
        return self.stem(fbank.transpose(1, 2)).transpose(1, 2)


def build_architecture() -> TokenEncoder:
    """The untrained network (what pretraining starts from)."""
    return TokenEncoder(FbankTokens(), WIDTH, WINDOW_FRAMES // FRAMES_PER_TOKEN,
                        TOKENS_PER_FRAME, dim=FEATURE_DIM, pool="strided")


def build_pretrained_tiny_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """``Tensor[N, 512, 128]`` (one fbank window per row) -> ``Tensor[N, 8, 256]``; ``source``:
    a folder with ``model.safetensors`` (default: the shipped weights)."""
    return build_frozen(build_architecture, source or WEIGHTS_DIR, ENCODER_ID)


PRETRAIN = PretrainSpec(
    modality="audio", encoder_id=ENCODER_ID, synthesize=synthesize, preprocess=preprocess,
    build=build_architecture, weights_dir=WEIGHTS_DIR,
    config=PretrainConfig(steps=1200, batch_size=32, lr=1e-3),
)
