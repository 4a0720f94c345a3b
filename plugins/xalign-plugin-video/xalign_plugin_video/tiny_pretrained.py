"""The pretrained tiny video encoder: the image plugin's pretrained architecture, trained on video.

Each of the clip's frames (``[F, 3, 224, 224]``, the plugin's
:func:`~xalign_plugin_video.preprocess.preprocess` output) is encoded alone into ``[8, 256]``
(:mod:`xalign_plugin_image.encoders.tiny_pretrained`); the weights are its own, from the generic
contrastive pretraining on video clips and their captions (``xalign encoders pretrain
--modality video``), where the head reads the frames in order, so what moves where is kept
per frame. They ship in ``weights/tiny-pretrained`` with their model card.
"""

from __future__ import annotations

from pathlib import Path

from xalign_plugin_image.encoders.tiny_pretrained import (
    FEATURE_DIM,
    TOKENS_PER_FRAME,
    build_architecture,
)

from xalign.encoders import FrozenEncoder
from xalign.encoders.pretrain import PretrainConfig, PretrainSpec
from xalign.encoders.tiny_pretrained import build_frozen
from xalign_plugin_video.preprocess import preprocess
from xalign_plugin_video.synthetic import synthesize

ENCODER_ID = "xalign-video-tiny-pretrained-1"
WEIGHTS_DIR = Path(__file__).parent / "weights" / "tiny-pretrained"


def build_pretrained_tiny_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """``Tensor[F, 3, 224, 224]`` -> ``Tensor[F, 8, 256]``; ``source``: a folder with
    ``model.safetensors`` (default: the shipped weights)."""
    return build_frozen(build_architecture, source or WEIGHTS_DIR, ENCODER_ID)


PRETRAIN = PretrainSpec(
    modality="video", encoder_id=ENCODER_ID, synthesize=synthesize, preprocess=preprocess,
    build=build_architecture, weights_dir=WEIGHTS_DIR,
    config=PretrainConfig(steps=200, batch_size=8, lr=1e-3),
)

__all__ = ["ENCODER_ID", "FEATURE_DIM", "PRETRAIN", "TOKENS_PER_FRAME", "WEIGHTS_DIR",
           "build_architecture", "build_pretrained_tiny_encoder"]
