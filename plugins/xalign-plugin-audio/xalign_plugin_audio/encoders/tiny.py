"""The built-in tiny audio encoder: BEATs-style 16×16 fbank patches + 2 transformer layers.

Not pretrained: weights come from a fixed seed, so every machine builds the same
frozen features. A 512×128 fbank window gives 32 (time) × 8 (frequency) = 256
tokens of 256 dims. The patch projection is linear and is not followed by a
norm, so which mel band is active (pitch), how strong it is (loudness) and when
(beat rate) stay linearly readable from the tokens. The encoder returns, per window
(``[N, 3, 256]``), their salient pool and spectral flux (:class:`PoolWithFlux`) and an
onset-count token from a classical, non-learned onset detector (:class:`OnsetCount`):
a 16-frame patch (160 ms) is longer than the gap between two tones, so the patch tokens
blur events together and no linear read-out of them counts events (55-64% on the
synthetic world's 1-4 events, see the README).
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.encoders.tiny import ConcatTokens, build_tiny, salient_pool, seeded
from xalign.errors import CheckpointError
from xalign_plugin_audio.preprocess import padding_frames

FEATURE_DIM = 256
PATCH = 16
SEED = 16_000
ENCODER_ID = "xalign-audio-tiny-3"  # the id projectors saved before encoders were registered
# Onset detection, in normalised fbank units (1 nat of log-mel energy = 0.076):
MIN_RANGE = 0.3  # 4 nats (17 dB) above the band's floor; steady noise spans ~0.1
ONSET_LEVEL = 0.7  # an event starts where the envelope rises through 70% of the window's range
SMOOTH_FRAMES = 5
MAX_ONSETS = 16


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


def count_onsets(fbank: torch.Tensor) -> torch.Tensor:
    """``[N, frames, bins]`` normalised fbank -> ``[N]`` number of sound events (long).

    Each mel band's noise floor (its 10th percentile over the window's real frames) is
    subtracted, and the envelope is the band that rises most above its floor in each
    10 ms frame: a tone's energy sits in a few bands, where broadband noise is weak (the
    summed energy, or the loudest band, hides a quiet low tone under the noise). Padding
    frames take the envelope's lowest value; the envelope is smoothed over
    :data:`SMOOTH_FRAMES` frames and each rise through :data:`ONSET_LEVEL` of its range is
    one onset. A window whose envelope spans less than :data:`MIN_RANGE` (silence, steady
    noise, padding) has none.
    """
    padded = padding_frames(fbank)  # [N, frames]
    real = (~padded).sum(dim=1).clamp(min=1)
    # per-band floor: the 10th percentile of real frames (padding sorted to the top)
    ordered = fbank.masked_fill(padded[..., None], float("inf")).sort(dim=1).values
    floor = ordered.gather(1, (0.1 * (real - 1)).long()[:, None, None].expand(
        -1, 1, fbank.shape[-1]))
    envelope = (fbank - floor).amax(dim=-1).masked_fill(padded, float("inf"))
    lowest = envelope.amin(dim=1, keepdim=True)
    envelope = torch.where(padded, lowest, envelope)
    envelope = nn.functional.avg_pool1d(envelope[:, None], SMOOTH_FRAMES, stride=1,
                                        padding=SMOOTH_FRAMES // 2,
                                        count_include_pad=False)[:, 0]
    span = envelope.amax(dim=1, keepdim=True) - lowest
    above = (envelope - lowest) > ONSET_LEVEL * span
    onsets = (above[:, 1:] & ~above[:, :-1]).sum(dim=1) + above[:, 0]
    audible = (span[:, 0] >= MIN_RANGE) & (~padded).any(dim=1)
    return torch.where(audible, onsets, torch.zeros_like(onsets))


class OnsetCount(nn.Module):
    """``[N, frames, bins]`` -> ``[N, 1, d]``: a fixed random embedding of :func:`count_onsets`
    (one vector per count, 0 to :data:`MAX_ONSETS`), so each count is its own direction."""

    def __init__(self, dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.embedding = nn.Embedding(MAX_ONSETS + 1, dim)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.embedding(count_onsets(fbank).clamp(max=MAX_ONSETS))[:, None]


def build_tiny_encoder(source: str | None = None) -> FrozenEncoder:
    """The seeded tiny encoder: ``Tensor[N, 512, 128] -> Tensor[N, 3, 256]`` per window
    (salient pool and flux of the 256 patch tokens, see :class:`PoolWithFlux`, then the
    onset-count token, see :class:`OnsetCount`)."""
    if source is not None:
        raise CheckpointError(f"the tiny audio encoder is built from a seed, not {source!r}")
    backbone = build_tiny(FbankPatches, FEATURE_DIM, seed=SEED, depth=2, heads=4, max_tokens=256)
    with seeded(SEED + 1):
        onsets = OnsetCount(FEATURE_DIM)
    encoder = ConcatTokens(patches=PoolWithFlux(backbone), onsets=onsets)
    return FrozenEncoder(encoder, FEATURE_DIM, ENCODER_ID)
