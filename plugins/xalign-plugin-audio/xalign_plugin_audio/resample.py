"""Mono down-mix and sample-rate conversion (no torchaudio: polyphase FIR from scipy)."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

SAMPLE_RATE = 16_000  # DESIGN §2: every clip is mono 16 kHz before the fbank


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of ``[frames, channels]`` (or pass 1-D through) as float32."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float64).astype(np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected [frames] or [frames, channels], got shape {samples.shape}")
    return samples


def resample(samples: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a 1-D signal from ``orig_rate`` to ``target_rate`` Hz.

    Polyphase filtering with a Kaiser-windowed sinc low-pass (scipy's
    ``resample_poly``): the anti-aliasing filter removes content above the new
    Nyquist frequency, and the output has ``ceil(len * up / down)`` samples.
    """
    if orig_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {orig_rate}")
    samples = np.asarray(samples, dtype=np.float32)
    if orig_rate == target_rate or samples.size == 0:
        return samples
    g = gcd(int(orig_rate), int(target_rate))
    up, down = target_rate // g, orig_rate // g
    return resample_poly(samples.astype(np.float64), up, down).astype(np.float32)
