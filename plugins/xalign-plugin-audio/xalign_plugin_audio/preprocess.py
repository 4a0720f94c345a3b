"""Waveform -> encoder input ``Tensor[2, 512, 128]`` exactly as DESIGN §2.

Mono 16 kHz samples (±1 scale) are scaled to the int16 range (what BEATs and
LAVIS feed Kaldi, and what the normalisation constants were measured on), turned
into a 128-bin Kaldi fbank (25 ms Hanning window, 10 ms shift, no dither),
normalised as BEATs does, ``(fbank − 15.41663) / (2 × 6.55582)``, and cut into
two windows of 512 frames (5.12 s).

Window placement, for ``n`` fbank frames:

* ``n ≤ 1024`` (clips up to ~10.3 s, e.g. AudioCaps): two consecutive windows from
  the start; the missing tail is padded with 0 in normalised units (the fbank
  mean), as LAVIS's ``BeatsAudioProcessor`` does.
* ``n > 1024``, evaluation: two windows evenly spaced over the clip, i.e. the first
  and the last 512 frames.
* ``n > 1024``, training: a random 1024-frame stretch, split into two consecutive
  windows (a random crop, drawn from torch's global RNG).

A clip shorter than one 25 ms analysis frame (e.g. 1 ms) is zero-padded to one
frame, so it still yields one real fbank frame; silence gives the finite log
floor ``log(float32 eps)``.
"""

from __future__ import annotations

import numpy as np
import torch

from xalign.errors import MediaError
from xalign_plugin_audio.fbank import FbankOptions, fbank

FBANK = FbankOptions()  # DESIGN §2: 128 bins, 25 ms / 10 ms, Hanning, Kaldi defaults otherwise
FBANK_MEAN, FBANK_STD = 15.41663, 6.55582  # BEATs's AudioSet statistics
INT16_SCALE = 2.0**15
NUM_WINDOWS, WINDOW_FRAMES = 2, 512
PAD_VALUE = 0.0  # normalised units, as LAVIS pads


def as_waveform(raw: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Validate an in-memory raw item: 1-D, finite, float32."""
    wave = torch.as_tensor(raw)
    if wave.ndim != 1:
        raise MediaError(None, f"audio raw item must be a 1-D waveform, got shape "
                               f"{tuple(wave.shape)}")
    wave = wave.to(torch.float32)
    if not torch.isfinite(wave).all():
        raise MediaError(None, "waveform contains NaN or infinite samples")
    return wave


def log_mel(waveform: torch.Tensor, opts: FbankOptions = FBANK) -> torch.Tensor:
    """Kaldi fbank ``[frames, 128]`` of a ±1-scaled waveform (scaled to int16 range first)."""
    wave = as_waveform(waveform)
    if wave.shape[0] < opts.window_size:  # too short for one frame: pad with silence
        wave = torch.nn.functional.pad(wave, (0, opts.window_size - wave.shape[0]))
    return fbank(wave * INT16_SCALE, opts)


def normalise(fbank_frames: torch.Tensor) -> torch.Tensor:
    """BEATs normalisation ``(fbank − mean) / (2 × std)``."""
    return (fbank_frames - FBANK_MEAN) / (2 * FBANK_STD)


def denormalise(windows: torch.Tensor) -> torch.Tensor:
    """Undo :func:`normalise`: back to natural-log mel energies (int16 scale)."""
    return windows * (2 * FBANK_STD) + FBANK_MEAN


def padding_frames(windows: torch.Tensor) -> torch.Tensor:
    """Bool mask ``[..., frames]`` of padded frames (every bin exactly ``PAD_VALUE``).

    A real fbank frame never matches: band 3 of 128 covers no FFT bin at 16 kHz, so
    it always sits at the log floor, about −2.39 in normalised units.
    """
    return (windows == PAD_VALUE).all(dim=-1)


def window_starts(num_frames: int, train: bool) -> list[int]:
    """First fbank frame of each window (see the module docstring)."""
    span = NUM_WINDOWS * WINDOW_FRAMES
    if num_frames <= span:
        return [i * WINDOW_FRAMES for i in range(NUM_WINDOWS)]
    if train:
        offset = int(torch.randint(0, num_frames - span + 1, ()).item())
        return [offset + i * WINDOW_FRAMES for i in range(NUM_WINDOWS)]
    last = num_frames - WINDOW_FRAMES
    return [round(last * i / (NUM_WINDOWS - 1)) for i in range(NUM_WINDOWS)]


def split_windows(frames: torch.Tensor, train: bool) -> torch.Tensor:
    """Cut normalised fbank ``[n, bins]`` into ``[NUM_WINDOWS, WINDOW_FRAMES, bins]``."""
    needed = NUM_WINDOWS * WINDOW_FRAMES
    if frames.shape[0] < needed:
        pad = frames.new_full((needed - frames.shape[0], frames.shape[1]), PAD_VALUE)
        frames = torch.cat([frames, pad])
    starts = window_starts(frames.shape[0], train)
    return torch.stack([frames[s: s + WINDOW_FRAMES] for s in starts])


def preprocess(raw: torch.Tensor | np.ndarray, train: bool = False) -> torch.Tensor:
    """Mono 16 kHz waveform -> ``Tensor[2, 512, 128]`` of normalised fbank windows."""
    return split_windows(normalise(log_mel(raw)), train)
