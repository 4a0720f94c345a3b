"""Kaldi-compatible log-mel filterbank ("fbank") in torch.

Follows Kaldi's ``compute-fbank-feats`` step by step (and so torchaudio's
``compliance.kaldi.fbank`` and ``kaldi-native-fbank``): frames cut with
``snip_edges``, DC offset removed per frame, pre-emphasis, window, zero-padded
FFT, power spectrum, triangular filters on the Kaldi mel scale
(``1127 ln(1 + f/700)``), natural log floored at float32 epsilon. Dither is
never applied (DESIGN §2: "no dither"), so the output is deterministic.

Input scale is the caller's choice; BEATs (and so DESIGN §2's normalisation
constants) computes fbank on samples scaled to the int16 range, see
:func:`xalign_plugin_audio.preprocess.log_mel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

# Kaldi floors energies at float32 epsilon before the log, so silence stays finite.
LOG_FLOOR = float(torch.finfo(torch.float32).eps)
WINDOW_TYPES = ("hanning", "povey", "hamming", "rectangular", "blackman", "sine")


@dataclass(frozen=True)
class FbankOptions:
    """The Kaldi options we honour; defaults are DESIGN §2 (Hanning) over Kaldi defaults."""

    sample_rate: int = 16_000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    num_mel_bins: int = 128
    window_type: str = "hanning"  # Kaldi's own default is "povey"
    blackman_coeff: float = 0.42
    preemphasis: float = 0.97
    remove_dc_offset: bool = True
    round_to_power_of_two: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means an offset from the Nyquist frequency
    snip_edges: bool = True
    use_power: bool = True
    use_log_fbank: bool = True
    use_energy: bool = False  # prepend log frame energy as column 0 (htk_compat off)
    raw_energy: bool = True
    energy_floor: float = 0.0

    @property
    def window_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def window_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @property
    def padded_window_size(self) -> int:
        size = self.window_size
        return 1 << (size - 1).bit_length() if self.round_to_power_of_two else size


def mel_scale(freq: torch.Tensor | float) -> torch.Tensor:
    """Kaldi's mel scale."""
    return 1127.0 * torch.log1p(torch.as_tensor(freq, dtype=torch.float64) / 700.0)


@lru_cache(maxsize=16)
def feature_window(opts: FbankOptions) -> torch.Tensor:
    """The analysis window of ``opts.window_type`` (float64, symmetric as in Kaldi)."""
    n = opts.window_size
    i = torch.arange(n, dtype=torch.float64)
    a = 2 * math.pi / (n - 1)
    kind = opts.window_type
    if kind == "hanning":
        return 0.5 - 0.5 * torch.cos(a * i)
    if kind == "povey":
        return (0.5 - 0.5 * torch.cos(a * i)) ** 0.85
    if kind == "hamming":
        return 0.54 - 0.46 * torch.cos(a * i)
    if kind == "sine":
        return torch.sin(0.5 * a * i)
    if kind == "blackman":
        c = opts.blackman_coeff
        return c - 0.5 * torch.cos(a * i) + (0.5 - c) * torch.cos(2 * a * i)
    if kind == "rectangular":
        return torch.ones(n, dtype=torch.float64)
    raise ValueError(f"unknown window_type {kind!r}; choices: {', '.join(WINDOW_TYPES)}")


@lru_cache(maxsize=16)
def mel_banks(opts: FbankOptions) -> torch.Tensor:
    """Triangular filters ``[num_mel_bins, padded_window_size // 2 + 1]`` (float64).

    Triangles are linear in mel, as in Kaldi; the Nyquist bin always gets weight 0.
    """
    nyquist = 0.5 * opts.sample_rate
    high = opts.high_freq if opts.high_freq > 0 else nyquist + opts.high_freq
    if not 0 <= opts.low_freq < high <= nyquist:
        raise ValueError(f"bad mel range: low_freq={opts.low_freq}, high_freq={high} "
                         f"(Nyquist {nyquist})")
    num_fft_bins = opts.padded_window_size // 2
    mel_low, mel_high = mel_scale(opts.low_freq), mel_scale(high)
    delta = (mel_high - mel_low) / (opts.num_mel_bins + 1)
    b = torch.arange(opts.num_mel_bins, dtype=torch.float64)[:, None]
    left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
    bin_mel = mel_scale(torch.arange(num_fft_bins, dtype=torch.float64)
                        * opts.sample_rate / opts.padded_window_size)[None, :]
    up = (bin_mel - left) / (center - left)
    down = (right - bin_mel) / (right - center)
    weights = torch.where(bin_mel <= center, up, down)
    weights = torch.where((bin_mel > left) & (bin_mel < right), weights, torch.zeros(()))
    return torch.nn.functional.pad(weights, (0, 1))  # the Nyquist column


def _frame_indices(num_samples: int, opts: FbankOptions) -> torch.Tensor:
    """Sample index of each frame position, ``[num_frames, window_size]``."""
    size, shift = opts.window_size, opts.window_shift
    if opts.snip_edges:
        num_frames = 0 if num_samples < size else 1 + (num_samples - size) // shift
        starts = torch.arange(num_frames) * shift
    else:  # frames centred on multiples of the shift, edges mirrored (Kaldi's ExtractWindow)
        num_frames = (num_samples + shift // 2) // shift
        starts = torch.arange(num_frames) * shift + shift // 2 - size // 2
    index = starts[:, None] + torch.arange(size)[None, :]
    if not opts.snip_edges and num_samples > 0:
        period = 2 * num_samples  # reflection about both ends: s -> -s-1, s -> 2n-1-s
        index = index % period
        index = torch.where(index >= num_samples, period - 1 - index, index)
    return index


def fbank(waveform: torch.Tensor, opts: FbankOptions | None = None) -> torch.Tensor:
    """Log-mel filterbank of a 1-D waveform: ``[num_frames, num_mel_bins]`` float32.

    Computed in float64 so that the result is as close to exact as float32 output
    allows. ``num_frames`` is ``1 + (len - window) // shift`` (0 for a clip shorter
    than one window) with ``snip_edges``.
    """
    opts = opts or FbankOptions()
    if waveform.ndim != 1:
        raise ValueError(f"fbank expects a 1-D waveform, got shape {tuple(waveform.shape)}")
    wave = waveform.to(torch.float64)
    if opts.snip_edges and wave.shape[0] >= opts.window_size:  # a strided view, no copy
        frames = wave.unfold(0, opts.window_size, opts.window_shift)
    else:
        frames = wave[_frame_indices(wave.shape[0], opts)]  # [F, window_size]
    if frames.shape[0] == 0:  # shorter than one frame (MKL's FFT rejects empty batches)
        return torch.zeros(0, opts.num_mel_bins + int(opts.use_energy))
    if opts.remove_dc_offset:
        frames = frames - frames.mean(dim=1, keepdim=True)
    energy = frames.pow(2).sum(dim=1) if opts.use_energy and opts.raw_energy else None
    if opts.preemphasis != 0.0:
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = frames - opts.preemphasis * previous
    frames = frames * feature_window(opts)
    if opts.use_energy and energy is None:
        energy = frames.pow(2).sum(dim=1)
    spectrum = torch.view_as_real(torch.fft.rfft(frames, n=opts.padded_window_size))
    spectrum = spectrum.square().sum(dim=-1)  # power
    if not opts.use_power:
        spectrum = spectrum.sqrt()
    mel = spectrum @ mel_banks(opts).T
    if opts.use_log_fbank:
        mel = mel.clamp_min(LOG_FLOOR).log()
    if opts.use_energy:
        log_energy = energy.clamp_min(LOG_FLOOR).log()
        if opts.energy_floor > 0:
            log_energy = log_energy.clamp_min(math.log(opts.energy_floor))
        mel = torch.cat([log_energy[:, None], mel], dim=1)
    return mel.to(torch.float32)
