"""The built-in tiny audio encoder: BEATs-style 16×16 fbank patches + 2 transformer layers.

Not pretrained: weights come from a fixed seed, so every machine builds the same
frozen features. A 512×128 fbank window gives 32 (time) × 8 (frequency) = 256
tokens of 256 dims. The patch projection is linear and is not followed by a
norm, so which mel band is active (pitch), how strong it is (loudness) and when
(count, beat rate) stay linearly readable from the tokens. The encoder returns their
salient pool and flux per window (``[N, 2, 256]``), see :class:`PoolWithFlux`.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders import FrozenEncoder
from xalign.encoders.tiny import build_tiny, salient_pool

FEATURE_DIM = 256
PATCH = 16
SEED = 16_000
ENCODER_ID = "xalign-audio-tiny-2"  # -2: two pooled tokens instead of 256 patch tokens


class FbankPatches(nn.Module):
    """``[N, frames, bins]`` fbank -> ``[N, (frames/16)·(bins/16), dim]`` tokens, time-major."""

    def __init__(self, dim: int = FEATURE_DIM, patch: int = PATCH) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        if fbank.ndim != 3:
            raise ValueError(f"expected fbank windows [N, frames, bins], got {tuple(fbank.shape)}")
        patches = self.proj(fbank.unsqueeze(1))  # [N, dim, frames/16, bins/16]
        return patches.flatten(2).transpose(1, 2)


class PoolWithFlux(nn.Module):
    """Patch tokens ``[N, 256, d]`` (32 time × 8 frequency) -> ``[N, 2, d]``: salient pool, flux.

    Flux is the mean absolute change between consecutive time steps of the
    frequency-pooled tokens (spectral flux, a classic onset feature): it grows with the
    number of events in the window, which pooling cannot count.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone(fbank)
        n, t, d = tokens.shape
        bands = fbank.shape[-1] // PATCH  # tokens are time-major: `bands` per time step
        over_time = tokens.view(n, t // bands, bands, d).mean(2)
        flux = over_time.diff(dim=1).abs().mean(1)
        return torch.cat([salient_pool(tokens), flux[:, None]], dim=1)


def build_tiny_encoder() -> FrozenEncoder:
    """The seeded tiny encoder: ``Tensor[N, 512, 128] -> Tensor[N, 2, 256]`` (salient pool and
    flux of the 256 patch tokens per window, see :class:`PoolWithFlux`)."""
    backbone = build_tiny(FbankPatches, FEATURE_DIM, seed=SEED, depth=2, heads=4, max_tokens=256)
    return FrozenEncoder(PoolWithFlux(backbone), FEATURE_DIM, ENCODER_ID)
