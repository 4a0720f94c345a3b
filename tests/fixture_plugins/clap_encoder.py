"""A third party's audio encoder, registered for the audio plugin's modality through
register_encoders without touching that plugin: CLAP's own feature extractor for input, and
a small seeded network standing in for the CLAP audio tower."""

from __future__ import annotations

from typing import Any

from xalign import Encoder, hookimpl

DIM = 16


def preprocess(raw: Any, train: bool) -> Any:
    import numpy as np
    import torch
    from scipy.signal import resample_poly
    from transformers import ClapFeatureExtractor

    wave = resample_poly(np.asarray(raw, dtype=np.float64), 3, 1).astype(np.float32)  # 48 kHz
    features = ClapFeatureExtractor()(wave, sampling_rate=48_000, return_tensors="np")
    return torch.from_numpy(features["input_features"])  # [1, 4, 1001, 64] (fusion)


def build(source: str | None) -> Any:
    import torch

    from xalign.encoders import FrozenEncoder, seeded

    class MelTokens(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(64, DIM)

        def forward(self, mel: torch.Tensor) -> torch.Tensor:  # [N, C, frames, 64]
            tokens = self.proj(mel.mean(1) / 100.0)  # dB -> order 1
            pooled = torch.nn.functional.adaptive_avg_pool1d(tokens.transpose(1, 2), 8)
            return pooled.transpose(1, 2)

    with seeded(7):
        return FrozenEncoder(MelTokens(), DIM, "clap-fixture")


CLAP = Encoder(id="clap-fixture", modality="audio", family="clap", build=build,
               preprocess=preprocess, feature_dim=DIM, tokens_per_frame=8, stand_in=True,
               description="test fixture: CLAP features, seeded mel-token network")


@hookimpl
def register_encoders(register):
    register(CLAP)
