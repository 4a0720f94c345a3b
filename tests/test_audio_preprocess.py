"""Audio preprocessing: DESIGN §2 shapes and constants, window placement, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from xalign_plugin_audio.fbank import LOG_FLOOR
from xalign_plugin_audio.preprocess import (
    FBANK,
    FBANK_MEAN,
    FBANK_STD,
    PAD_VALUE,
    denormalise,
    log_mel,
    padding_frames,
    preprocess,
    window_starts,
)

from xalign.errors import MediaError

RATE = 16_000


def tone(seconds: float, freq: float = 440.0, amplitude: float = 0.3) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()


def test_design_constants() -> None:
    assert (FBANK.num_mel_bins, FBANK.frame_length_ms, FBANK.frame_shift_ms) == (128, 25, 10)
    assert FBANK.window_type == "hanning" and FBANK.sample_rate == RATE
    assert (FBANK_MEAN, FBANK_STD) == (15.41663, 6.55582)


def test_shape_and_beats_normalisation() -> None:
    wave = tone(3.0)
    windows = preprocess(wave, train=False)
    assert windows.shape == (2, 512, 128) and windows.dtype == torch.float32
    fbank = log_mel(wave)  # int16-scaled input, like BEATs / LAVIS
    assert fbank.shape == (1 + (wave.numel() - 400) // 160, 128)
    expected = (fbank - 15.41663) / (2 * 6.55582)
    torch.testing.assert_close(windows[0, : fbank.shape[0]], expected)
    # the tail is padding (LAVIS pads the normalised fbank with 0) and is flagged as such
    assert windows[0, fbank.shape[0]:].eq(PAD_VALUE).all() and windows[1].eq(PAD_VALUE).all()
    mask = padding_frames(windows)
    assert not mask[0, : fbank.shape[0]].any() and mask[0, fbank.shape[0]:].all()
    torch.testing.assert_close(denormalise(windows[0, :10]), fbank[:10])


def test_int16_scaling_matters() -> None:
    # a 440 Hz tone at 0.3 full scale sits near BEATs's mean at the tone's band, not 20 nats below
    fbank = log_mel(tone(1.0))
    assert 15 < float(fbank.max()) < 35


def test_consecutive_windows_for_a_ten_second_clip() -> None:
    wave = torch.randn(10 * RATE) * 0.1
    windows = preprocess(wave)
    frames = (log_mel(wave) - FBANK_MEAN) / (2 * FBANK_STD)
    assert frames.shape[0] == 998
    torch.testing.assert_close(windows[0], frames[:512])
    torch.testing.assert_close(windows[1, :486], frames[512:])
    assert windows[1, 486:].eq(PAD_VALUE).all()


def test_long_clip_eval_takes_first_and_last_windows() -> None:
    wave = torch.randn(20 * RATE) * 0.1
    frames = (log_mel(wave) - FBANK_MEAN) / (2 * FBANK_STD)
    windows = preprocess(wave, train=False)
    torch.testing.assert_close(windows[0], frames[:512])
    torch.testing.assert_close(windows[1], frames[-512:])
    assert window_starts(1998, train=False) == [0, 1486]


def test_long_clip_train_takes_a_random_consecutive_crop() -> None:
    starts = set()
    torch.manual_seed(0)
    for _ in range(20):
        first, second = window_starts(3000, train=True)
        assert second == first + 512 and 0 <= first <= 3000 - 1024
        starts.add(first)
    assert len(starts) > 10
    assert window_starts(900, train=True) == [0, 512]  # short clips: no randomness


def test_short_and_silent_inputs_pad_instead_of_failing() -> None:
    blip = preprocess(tone(0.001))  # 16 samples: padded to one 25 ms frame
    assert blip.shape == (2, 512, 128) and torch.isfinite(blip).all()
    assert not padding_frames(blip)[0, 0] and padding_frames(blip)[0, 1:].all()
    empty = preprocess(torch.zeros(0))
    assert empty.shape == (2, 512, 128)
    silent = preprocess(torch.zeros(2 * RATE))
    floor = (math.log(LOG_FLOOR) - FBANK_MEAN) / (2 * FBANK_STD)
    assert torch.isfinite(silent).all()
    torch.testing.assert_close(silent[0, :198], torch.full((198, 128), floor))


def test_numpy_input_and_bad_inputs() -> None:
    wave = tone(1.0)
    torch.testing.assert_close(preprocess(wave.numpy()), preprocess(wave))
    bad = wave.clone()
    bad[5] = float("nan")
    with pytest.raises(MediaError, match="NaN"):
        preprocess(bad)
    with pytest.raises(MediaError, match="NaN"):
        preprocess(torch.full((RATE,), float("inf")))
    with pytest.raises(MediaError, match="1-D"):
        preprocess(np.zeros((2, RATE), np.float32))
