"""Whisper's own input: ``WhisperFeatureExtractor`` (80-bin log-mel, 30-second window).

``preprocess(raw, train)`` maps the audio plugin's raw item (mono 16 kHz float32, ±1) to
``Tensor[1, 80, 3000]``: one frame per item, exactly what ``WhisperFeatureExtractor``
returns (zero-padded or truncated to 30 s; clips longer than 30 s keep their first 30 s).

Which mel frames hold real audio is read back from the features themselves: the extractor
pads the waveform with zeros, whose log-mel sits at the clamp floor (``max − 8`` in log10,
i.e. ``(max − 4) / 4`` after scaling) in every bin. Trailing digital silence is therefore
counted as padding too, which drops nothing audible.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from xalign.errors import MediaError

SAMPLE_RATE = 16_000
MEL_FRAMES = 3000           # 30 s at a 10 ms hop
MEL_PER_ENCODER_FRAME = 2   # conv2 has stride 2: 1500 encoder frames of 20 ms


@functools.lru_cache(maxsize=1)
def feature_extractor() -> Any:
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)


def preprocess(raw: torch.Tensor | np.ndarray, train: bool = False) -> torch.Tensor:  # noqa: ARG001
    """Mono 16 kHz waveform -> ``Tensor[1, 80, 3000]`` log-mel (no augmentation at train time)."""
    wave = torch.as_tensor(raw)
    if wave.ndim != 1:
        raise MediaError(None, f"audio raw item must be a 1-D waveform, got shape "
                               f"{tuple(wave.shape)}")
    wave = wave.to(torch.float32)
    if wave.numel() == 0 or not torch.isfinite(wave).all():
        raise MediaError(None, "waveform is empty or contains NaN or infinite samples")
    out = feature_extractor()(wave.numpy(), sampling_rate=SAMPLE_RATE, return_tensors="np")
    return torch.from_numpy(np.asarray(out["input_features"], dtype=np.float32))


def real_mel_frames(features: torch.Tensor) -> torch.Tensor:
    """Per item of ``[N, 80, 3000]``: the mel frames up to the last one above the floor (≥ 1)."""
    floor = features.amin(dim=(1, 2), keepdim=True)
    above = (features > floor).any(dim=1)  # [N, 3000]
    index = torch.arange(1, features.shape[-1] + 1, device=features.device)
    return (above * index).amax(dim=1).clamp(min=1)


def real_encoder_frames(features: torch.Tensor, max_frames: int) -> torch.Tensor:
    """Encoder frames (20 ms each) covering the real audio of each item (≥ 1)."""
    mel = real_mel_frames(features)
    return ((mel + MEL_PER_ENCODER_FRAME - 1) // MEL_PER_ENCODER_FRAME).clamp(1, max_frames)
