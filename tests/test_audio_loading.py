"""The audio loader on real codec files made at test time, good and bad."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from xalign_plugin_audio.loading import load

from xalign.errors import MediaError

av = pytest.importorskip("av")

RATE = 16_000


def tone(freq: float = 1000.0, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode_av(path: Path, samples: np.ndarray, rate: int, codec: str, fmt: str | None = None,
              video: bool = False) -> Path:
    """Write mono ``samples`` with FFmpeg through PyAV (optionally next to a tiny video track)."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if video:  # streams must all exist before the first packet is muxed
            vstream = out.add_stream("mpeg4", rate=10)
            vstream.width = vstream.height = 32
            vstream.pix_fmt = "yuv420p"
            for i in range(5):
                frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
                frame.pts = i
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
        size = stream.codec_context.frame_size or 1024
        for start in range(0, samples.size, size):
            chunk = np.ascontiguousarray(samples[None, start: start + size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            frame.time_base = fractions.Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def dominant_hz(wave: torch.Tensor, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(wave.numpy() * np.hanning(wave.numel())))
    return float(np.argmax(spectrum) * rate / wave.numel())


# -- good files ----------------------------------------------------------------------
@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".flac", "PCM_16"),
                                             (".ogg", "VORBIS"), (".wav", "FLOAT")])
def test_soundfile_formats(tmp_path: Path, suffix: str, subtype: str) -> None:
    path = tmp_path / f"clip{suffix}"
    sf.write(path, tone(), RATE, subtype=subtype)
    wave = load(path)
    assert wave.dtype == torch.float32 and wave.ndim == 1
    assert abs(wave.numel() - RATE) <= 1
    assert abs(dominant_hz(wave) - 1000) <= 2
    assert 0.3 < wave.abs().max() < 0.5


@pytest.mark.parametrize("name, codec, fmt, video", [
    ("clip.mp3", "libmp3lame", None, False), ("clip.aac", "aac", "adts", False),
    ("clip.m4a", "aac", None, False), ("clip.mp4", "aac", None, True),
])
def test_compressed_and_video_containers(tmp_path: Path, name: str, codec: str,
                                         fmt: str | None, video: bool) -> None:
    path = encode_av(tmp_path / name, tone(rate=44_100, seconds=1.0), 44_100, codec, fmt, video)
    wave = load(path)
    # encoders add priming/padding samples: about a second at 16 kHz, give or take 0.1 s
    assert abs(wave.numel() - RATE) < 0.1 * RATE
    assert abs(dominant_hz(wave) - 1000) <= 2
    assert 0.25 < wave.abs().max() < 0.6


def test_stereo_is_averaged(tmp_path: Path) -> None:
    left, right = tone(1000), tone(1000) * 0.0
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), RATE, subtype="FLOAT")
    np.testing.assert_allclose(load(path).numpy(), left / 2, atol=1e-6)


def test_44k1_resampling_keeps_frequency_and_level(tmp_path: Path) -> None:
    path = tmp_path / "hifi.wav"
    sf.write(path, tone(1000, seconds=2.0, rate=44_100), 44_100, subtype="FLOAT")
    wave = load(path)
    assert wave.numel() == 2 * RATE
    assert abs(dominant_hz(wave) - 1000) <= 1
    middle = wave[RATE // 2: -RATE // 2]
    assert abs(float(middle.pow(2).mean().sqrt()) - 0.4 / np.sqrt(2)) < 0.01  # same RMS
    # content above the new Nyquist is removed, not folded back
    path_hi = tmp_path / "ultrasonic.wav"
    sf.write(path_hi, tone(12_000, seconds=1.0, rate=44_100), 44_100, subtype="FLOAT")
    assert float(load(path_hi)[200:-200].abs().max()) < 0.01


def test_one_millisecond_loads(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    sf.write(path, tone(seconds=0.001), RATE)
    assert load(path).numel() == 16


# -- bad files -----------------------------------------------------------------------
def expect_media_error(path: Path, *fragments: str) -> MediaError:
    with pytest.raises(MediaError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message  # names the file
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_missing_and_empty_and_unsupported(tmp_path: Path) -> None:
    expect_media_error(tmp_path / "nope.wav", "not found")
    (tmp_path / "empty.wav").write_bytes(b"")
    expect_media_error(tmp_path / "empty.wav", "empty")
    (tmp_path / "notes.txt").write_text("hello")
    expect_media_error(tmp_path / "notes.txt", "unsupported extension", ".flac")


def test_truncated_flac(tmp_path: Path) -> None:
    good = tmp_path / "good.flac"
    sf.write(good, tone(seconds=2.0), RATE)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    expect_media_error(cut, "decode")


def test_random_bytes_wav(tmp_path: Path) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    expect_media_error(path, "cannot decode audio")


def test_random_bytes_mp3(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    expect_media_error(path)


def test_zero_length(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, np.float32), RATE)
    assert path.stat().st_size > 0  # a header, no samples
    expect_media_error(path, "no audio samples")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(tmp_path: Path, bad: float) -> None:
    samples = tone()
    samples[100:110] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, samples, RATE, subtype="FLOAT")
    expect_media_error(path, "10 of 16000 samples are NaN or infinite")
    sf.write(path, np.full(RATE, bad, np.float32), RATE, subtype="FLOAT")
    expect_media_error(path, "NaN or infinite")


def test_wrong_extension_for_the_content(tmp_path: Path) -> None:
    flac_as_wav = tmp_path / "really_flac.wav"
    sf.write(flac_as_wav, tone(), RATE, format="FLAC")
    expect_media_error(flac_as_wav, "content is FLAC", "'.wav'")
    mp3_as_m4a = tmp_path / "really_mp3.m4a"
    encode_av(mp3_as_m4a, tone(), RATE, "libmp3lame", fmt="mp3")
    expect_media_error(mp3_as_m4a, "content is 'mp3'", "'.m4a'")


def test_video_without_audio_track(tmp_path: Path) -> None:
    path = tmp_path / "silent_film.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    expect_media_error(path, "no audio track")
