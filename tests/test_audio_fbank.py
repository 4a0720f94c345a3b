"""Our torch Kaldi fbank against two references: kaldi-native-fbank and a float64 Kaldi path.

Tolerances (log-mel, natural log):
* vs ``kaldi-native-fbank`` (float32 C++), all bins within 15 nats (65 dB) of the frame's
  peak, and every bin of noise: max |diff| < 1e-3 at 80 bins (measured ≤ 7.2e-4) and
  < 2.5e-3 at 120 bins (measured ≤ 1.8e-3; narrower bands, where knf's float32 mel
  weights matter more). Further below the peak knf's own float32 rounding dominates
  (differences reach 0.5 on bins 130 dB under a pure tone), so those are not compared.
* vs transformers' numpy Kaldi fbank (float64, the path ``ASTFeatureExtractor`` uses
  without torchaudio) at DESIGN's 128 bins, every bin: < 1e-4 (measured ≤ 1e-6).
  knf refuses 128 bins at 16 kHz (one band holds no FFT bin), so 80 and 120 bins are
  compared with knf instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xalign_plugin_audio.fbank import LOG_FLOOR, FbankOptions, fbank, mel_banks

knf = pytest.importorskip("kaldi_native_fbank")
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

RATE = 16_000


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(RATE) / RATE
    floor = 3e-5 * rng.standard_normal(t.size)  # a recording's noise floor, about −90 dB
    return {
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t) + floor,
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) + floor,
        "chirp": 0.3 * np.sin(2 * np.pi * (100 * t + 1000 * t**2)) + floor,  # speech-like sweep
        "beeps": 0.5 * np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.1) + floor,
        "noise": 0.1 * rng.standard_normal(t.size),
        "quiet_noise": 1e-4 * rng.standard_normal(t.size),
    }


def kaldi_native(wave: np.ndarray, opts: FbankOptions) -> np.ndarray:
    o = knf.FbankOptions()
    o.frame_opts.dither = 0.0
    o.frame_opts.window_type = opts.window_type
    o.frame_opts.snip_edges = opts.snip_edges
    o.mel_opts.num_bins = opts.num_mel_bins
    o.use_energy = opts.use_energy
    o.energy_floor = opts.energy_floor
    o.raw_energy = opts.raw_energy
    online = knf.OnlineFbank(o)
    online.accept_waveform(RATE, wave.tolist())
    online.input_finished()
    return np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])


@pytest.mark.parametrize("window", ["hanning", "povey"])
@pytest.mark.parametrize("snip_edges", [True, False])
@pytest.mark.parametrize("bins", [80, 120])
def test_matches_kaldi_native_fbank(window: str, snip_edges: bool, bins: int) -> None:
    opts = FbankOptions(window_type=window, snip_edges=snip_edges, num_mel_bins=bins)
    worst_near_peak = worst_noise = 0.0
    for name, sig in signals().items():
        wave = (sig * 32768).astype(np.float32)
        ref = kaldi_native(wave, opts)
        ours = fbank(torch.from_numpy(wave), opts).numpy()
        assert ours.shape == ref.shape, name
        diff = np.abs(ours - ref)
        near_peak = ours > ours.max(axis=1, keepdims=True) - 15.0
        worst_near_peak = max(worst_near_peak, float(diff[near_peak].max()))
        if "noise" in name:
            worst_noise = max(worst_noise, float(diff.max()))
    tolerance = 1e-3 if bins == 80 else 2.5e-3
    assert worst_near_peak < tolerance
    assert worst_noise < tolerance


@pytest.mark.parametrize("raw_energy", [True, False])
def test_energy_column_matches_kaldi_native_fbank(raw_energy: bool) -> None:
    opts = FbankOptions(num_mel_bins=80, use_energy=True, energy_floor=1.0, raw_energy=raw_energy)
    wave = (signals()["noise"] * 32768).astype(np.float32)
    ours = fbank(torch.from_numpy(wave), opts).numpy()
    ref = kaldi_native(wave, opts)
    assert ours.shape == ref.shape == (ref.shape[0], 81)
    assert np.abs(ours - ref).max() < 2e-3


def test_silence_is_the_finite_log_floor_like_kaldi() -> None:
    wave = np.zeros(RATE, dtype=np.float32)
    opts = FbankOptions(num_mel_bins=80)
    ours = fbank(torch.from_numpy(wave), opts).numpy()
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, np.log(LOG_FLOOR), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours, kaldi_native(wave, opts), atol=1e-6)


def test_128_bins_match_a_float64_kaldi_reference() -> None:
    transformers = pytest.importorskip("transformers")
    extractor = transformers.ASTFeatureExtractor()  # Hanning window, 128 bins, ±1 samples
    if not hasattr(extractor, "mel_filters"):
        pytest.skip("torchaudio is installed: ASTFeatureExtractor uses it instead of numpy")
    for name, sig in signals().items():
        wave = sig.astype(np.float32)
        ours = fbank(torch.from_numpy(wave)).numpy()
        ref = extractor._extract_fbank_features(wave, ours.shape[0])
        assert ours.shape == (1 + (wave.size - 400) // 160, 128)
        assert np.abs(ours - ref).max() < 1e-4, name


def test_frame_count_and_short_input() -> None:
    opts = FbankOptions()
    assert fbank(torch.zeros(399), opts).shape == (0, 128)
    assert fbank(torch.zeros(400), opts).shape == (1, 128)
    assert fbank(torch.zeros(16_000), opts).shape == (98, 128)
    assert fbank(torch.zeros(16_000), FbankOptions(snip_edges=False)).shape == (100, 128)


def test_mel_banks_are_kaldi_triangles() -> None:
    banks = mel_banks(FbankOptions())
    assert banks.shape == (128, 257)
    assert (banks >= 0).all() and (banks <= 1).all()
    assert banks[:, -1].eq(0).all()  # Nyquist bin never used
    empty = (banks.sum(dim=1) == 0).nonzero().flatten().tolist()
    assert empty == [3]  # the one band too narrow for a 31.25 Hz FFT bin at 128 bins
    peaks = banks.argmax(dim=1)
    assert (peaks[4:].diff() >= 0).all()  # centres rise with the band index


def test_bad_options_fail_clearly() -> None:
    with pytest.raises(ValueError, match="window_type"):
        fbank(torch.zeros(1000), FbankOptions(window_type="kaiser"))
    with pytest.raises(ValueError, match="1-D"):
        fbank(torch.zeros(2, 1000))
