"""Mono down-mix and sample-rate conversion (no torchaudio: polyphase FIR from scipy)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

SAMPLE_RATE = 16_000  # DESIGN §2: every clip is mono 16 kHz before the fbank
MAX_PHASES = 1000  # every common rate (8k … 768k) needs at most 441 (44.1 kHz: 160/441)


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
    Nyquist frequency, and the output has ``ceil(len * up / down)`` samples, where
    ``up / down`` is the exact rate ratio, or, when ``up`` or ``down`` would exceed
    :data:`MAX_PHASES`, the closest ratio whose terms do not.
    """
    if orig_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {orig_rate}")
    samples = np.asarray(samples, dtype=np.float32)
    if orig_rate == target_rate or samples.size == 0:
        return samples
    ratio = Fraction(int(target_rate), int(orig_rate))
    if max(ratio.numerator, ratio.denominator) > MAX_PHASES:
        # an odd rate (767,999 Hz: 16000/767999) would need a filter of millions of taps
        # (30 s, 1 GB); the nearest ratio with at most MAX_PHASES up and down is off by
        # parts per million
        ratio = ratio.limit_denominator(max(1, int(MAX_PHASES / max(ratio, 1))))
    up, down = ratio.numerator, ratio.denominator
    return resample_poly(samples.astype(np.float64), up, down).astype(np.float32)
