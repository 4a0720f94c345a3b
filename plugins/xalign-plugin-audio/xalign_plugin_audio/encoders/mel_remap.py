"""Re-express our Kaldi fbank as another model's mel spectrogram (Whisper, CLAP).

The plugin hands every encoder the same input, the normalised 128-bin Kaldi fbank
(DESIGN §2), so encoders that were trained on a different mel front end get an
approximation of it computed from the fbank, not from the waveform:

1. undo the BEATs normalisation and the log: mel band powers at int16 scale;
2. divide each band by the sum of its triangle's weights, each weighted by the
   pre-emphasis gain ``|1 − 0.97 e^{−iω}|²`` at its bin: the signal's power *density*
   per FFT bin at the band's centre frequency, with Kaldi's pre-emphasis undone
   (the one empty band of 128 at 16 kHz is skipped);
3. interpolate that density linearly onto the target's FFT bin frequencies (constant
   below the first band centre, and above the last one up to 8 kHz; zero above
   8 kHz, where a 16 kHz signal has nothing);
4. rescale from our window and sample rate to the target's (for a stationary signal
   the expected power per bin grows with ``Σ window²`` and, for band-limited
   content, with the sample rate) and from int16 to ±1 sample scale;
5. apply the target's own mel filters.

All steps are linear in band power, so they fold into one matrix ``[target_mels, 128]``.
The result matches the target's features in level and spectral envelope but not
bit for bit: the fine structure inside one of our bands is lost.
"""

from __future__ import annotations

import math

import torch

from xalign_plugin_audio.fbank import FbankOptions, feature_window, mel_banks, mel_scale
from xalign_plugin_audio.preprocess import FBANK, INT16_SCALE, denormalise, padding_frames


def band_centres_hz(opts: FbankOptions = FBANK) -> torch.Tensor:
    """Centre frequency of each Kaldi mel band (float64), as :func:`mel_banks` places them."""
    nyquist = 0.5 * opts.sample_rate
    high = opts.high_freq if opts.high_freq > 0 else nyquist + opts.high_freq
    low_mel, high_mel = mel_scale(opts.low_freq), mel_scale(high)
    step = (high_mel - low_mel) / (opts.num_mel_bins + 1)
    mel = low_mel + step * torch.arange(1, opts.num_mel_bins + 1, dtype=torch.float64)
    return 700.0 * torch.expm1(mel / 1127.0)  # inverse of the Kaldi mel scale


def density_interpolation(freqs_hz: torch.Tensor, opts: FbankOptions = FBANK) -> torch.Tensor:
    """Matrix ``[len(freqs), num_mel_bins]``: band powers -> power per bin at ``freqs``."""
    banks = mel_banks(opts)
    omega = torch.linspace(0, math.pi, banks.shape[1], dtype=torch.float64)
    p = opts.preemphasis
    weight_sums = banks @ (1 + p * p - 2 * p * torch.cos(omega))  # pre-emphasis gain per bin
    valid = torch.nonzero(banks.sum(dim=1) > 0).flatten()
    centres = band_centres_hz(opts)[valid]
    freqs = freqs_hz.to(torch.float64)
    hi = torch.searchsorted(centres, freqs).clamp(1, len(centres) - 1)
    lo = hi - 1
    t = ((freqs - centres[lo]) / (centres[hi] - centres[lo])).clamp(0.0, 1.0)
    matrix = torch.zeros(len(freqs), opts.num_mel_bins, dtype=torch.float64)
    rows = torch.arange(len(freqs))
    matrix[rows, valid[lo]] += 1.0 - t
    matrix[rows, valid[hi]] += t
    matrix[freqs > 0.5 * opts.sample_rate] = 0.0
    safe = torch.where(weight_sums > 0, weight_sums, torch.ones(()))
    return matrix / safe


def band_power_map(target_filters: torch.Tensor, target_rate: int, target_fft: int,
                   target_window: torch.Tensor, opts: FbankOptions = FBANK) -> torch.Tensor:
    """``[target_mels, num_mel_bins]``: our band powers (int16 scale) -> target mel powers.

    ``target_filters`` is ``[target_fft // 2 + 1, target_mels]`` (the layout of
    ``transformers`` feature extractors' ``mel_filters``).
    """
    freqs = torch.arange(target_filters.shape[0], dtype=torch.float64) * target_rate / target_fft
    ours = feature_window(opts).pow(2).sum()
    scale = (target_rate / opts.sample_rate) * target_window.double().pow(2).sum() / ours
    scale = scale / INT16_SCALE**2
    return scale * target_filters.double().T @ density_interpolation(freqs, opts)


def mel_power(windows: torch.Tensor, power_map: torch.Tensor) -> torch.Tensor:
    """Normalised fbank windows ``[N, T, 128]`` -> target mel powers ``[N, T, target_mels]``.

    Padded frames become silence (power 0), which is how the targets pad.
    """
    power = denormalise(windows).exp() @ power_map.to(windows.dtype).T
    return power.masked_fill(padding_frames(windows).unsqueeze(-1), 0.0)
