"""The pretrained tiny video encoder (opt-in): image frames, then the clip.

Each of the clip's frames (``[F, 3, 224, 224]``, the plugin's
:func:`~xalign_plugin_video.preprocess.preprocess` output) goes through the image plugin's
pretrained architecture (:mod:`xalign_plugin_image.encoders.tiny_pretrained`), then a learned
linear map of the whole clip is added to every frame's tokens (:class:`ClipEncoder`):
``[F, 8, 256]``. The weights come from the generic contrastive pretraining on clips and
their captions (``xalign encoders pretrain --modality video``), started from the image
encoder's weights, each frame asked for the clip's caption alone. They ship in
``weights/tiny-pretrained`` with their model card.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from xalign_plugin_image.encoders import tiny_pretrained as image
from xalign_plugin_image.encoders.tiny_pretrained import FEATURE_DIM, TOKENS_PER_FRAME

from xalign.encoders import FrozenEncoder
from xalign.encoders.pretrain import PretrainConfig, PretrainSpec
from xalign.encoders.tiny_pretrained import build_frozen
from xalign_plugin_video.preprocess import preprocess
from xalign_plugin_video.synthetic import synthesize

ENCODER_ID = "xalign-video-tiny-pretrained-2"
WEIGHTS_DIR = Path(__file__).parent / "weights" / "tiny-pretrained"
MAX_FRAMES = 16  # one input map per frame position; clips are sampled to num_frames() <= this


class ClipEncoder(nn.Module):
    """``[F, 3, H, W]`` (one clip) or ``[B, F, 3, H, W]`` -> ``[(B,) F, K, d]``.

    Each frame goes through the image architecture alone; then a learned linear map of the
    whole clip, its frames in order, is added to every frame's tokens, and a LayerNorm:
    token ``k`` of frame ``t`` becomes ``LN(x[t, k] + out(sum_s in_s x[s, k]))``, with one
    ``in_s`` (``d -> rank``) per frame position and ``out`` (``rank -> d``) zero at the
    start, so the network starts as the image encoder. The projector reads a clip one frame
    at a time (X-InstructBLIP), so what happens across frames, e.g. which way something
    moves, has to be in every frame's tokens: this map is where it can get there, and the
    pretraining asks each frame alone for the clip's caption (:mod:`xalign.encoders.pretrain`,
    ``reads_clips``). Measured alternatives that learnt colour and speed but not direction
    (per-frame probe 0.45-0.50): one Transformer layer over all the clip's tokens, and a
    learned frames × frames scalar mixing.
    """

    reads_clips = True  # xalign.encoders.pretrain: frames of a clip are encoded together

    def __init__(self, frame_encoder: nn.Module, rank: int = 64) -> None:
        super().__init__()
        self.frames = frame_encoder
        self.dim, self.out_tokens = frame_encoder.dim, frame_encoder.out_tokens
        self.inputs = nn.Parameter(torch.randn(MAX_FRAMES, self.dim, rank) / self.dim ** 0.5)
        self.out = nn.Linear(rank, self.dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.norm = nn.LayerNorm(self.dim)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        one = clips.ndim == 4
        if one:
            clips = clips[None]
        if clips.ndim != 5 or clips.shape[1] > MAX_FRAMES:
            raise ValueError(f"expected frames [F <= {MAX_FRAMES}, 3, H, W] or a batch of "
                             f"them, got {tuple(clips.shape)}")
        b, f = clips.shape[:2]
        tokens = self.frames(clips.flatten(0, 1))  # [B·F, K, d]
        tokens = tokens.view(b, f, *tokens.shape[1:])
        clip = torch.einsum("bskd,sdr->bkr", tokens, self.inputs[:f])  # [B, K, rank]
        out = self.norm(tokens + self.out(clip)[:, None])
        return out[0] if one else out


def build_architecture() -> ClipEncoder:
    """The untrained network: the image plugin's architecture per frame, then the clip layer."""
    return ClipEncoder(image.build_architecture())


def build_pretrained_tiny_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """``Tensor[F, 3, 224, 224]`` -> ``Tensor[F, 8, 256]``; ``source``: a folder with
    ``model.safetensors`` (default: the shipped weights)."""
    return build_frozen(build_architecture, source or WEIGHTS_DIR, ENCODER_ID)


PRETRAIN = PretrainSpec(
    modality="video", encoder_id=ENCODER_ID, synthesize=synthesize, preprocess=preprocess,
    build=build_architecture, weights_dir=WEIGHTS_DIR,
    # v1 (frames alone, from random weights, 200 steps of 8 clips; 4000 did no better)
    # learnt colour only: direction probe 0.27-0.35. From the image encoder's weights the
    # frames know where things are from the start; the clip map learns what changes.
    init=image.WEIGHTS_DIR, init_module="frames",
    config=PretrainConfig(steps=1200, batch_size=32, lr=1e-3),
)

__all__ = ["ENCODER_ID", "FEATURE_DIM", "PRETRAIN", "TOKENS_PER_FRAME", "WEIGHTS_DIR",
           "build_architecture", "build_pretrained_tiny_encoder"]
