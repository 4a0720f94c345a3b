"""Video loading: real files made with PyAV / Pillow, decord and PyAV agree, bad files are named."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from xalign_plugin_video import load, load_video, num_frames, set_num_frames
from xalign_plugin_video.sampling import FRAMES_ENV, frame_indices

from xalign.errors import MediaError, XalignError

LEVELS = [10 * i + 5 for i in range(20)]  # frame i is a flat grey of 10·i + 5


def _encode(path: Path, count: int, codec: str = "libx264", side: int = 64,
            options: dict | None = None) -> Path:
    """A clip whose frame i is flat grey LEVELS[i] (so a frame's value names its index)."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=8)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"} if codec == "libx264" else {}
        container.start_encoding()  # writes the header even when no frame follows
        for i in range(count):
            pixels = np.full((side, side, 3), LEVELS[i], np.uint8)
            pixels[:8, :8] = (250, 0, 0)  # a red corner, to check RGB order
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _levels(frames: np.ndarray) -> list[int]:
    return [round(float(np.median(f[16:, 16:, 1]))) for f in frames]


def _nearest_index(level: int) -> int:
    return int(np.argmin([abs(level - v) for v in LEVELS]))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    out = {
        "mp4": _encode(root / "h264.mp4", 20),
        "avi": _encode(root / "mpeg4.avi", 20, codec="mpeg4"),
        "mkv": _encode(root / "h264.mkv", 20),
        "webm": _encode(root / "vp8.webm", 20, codec="libvpx"),
        "mov": _encode(root / "h264.mov", 20),
    }
    gif = [Image.new("RGB", (32, 32), (v, v, v)) for v in LEVELS[:7]]
    gif[0].save(root / "anim.gif", save_all=True, append_images=gif[1:], duration=100, loop=0)
    out["gif"] = root / "anim.gif"
    return out


@pytest.mark.parametrize("kind", ["mp4", "avi", "mkv", "webm", "mov"])
def test_decord_and_av_decode_the_same_frames(clips: dict, kind: str) -> None:
    by_decord = load_video(clips[kind], backend="decord")
    by_av = load_video(clips[kind], backend="av")
    assert by_decord.shape == by_av.shape == (5, 64, 64, 3)
    assert by_decord.dtype == by_av.dtype == np.uint8
    assert np.abs(by_decord.astype(int) - by_av).mean() < 2.0
    # uniform sampling: the centres of 5 segments of 20 frames
    expected = frame_indices(20, 5)
    assert expected == [2, 6, 10, 14, 18]
    assert [_nearest_index(v) for v in _levels(by_av)] == expected
    corner = by_av[0, 2, 2].astype(int)  # red stays red: RGB order, not BGR
    assert corner[0] > 180 and corner[2] < 70


def test_auto_uses_av_when_decord_fails_on_gif(clips: dict) -> None:
    with pytest.raises(MediaError, match="decord"):
        load_video(clips["gif"], backend="decord")  # decord cannot read GIF
    frames = load(clips["gif"])
    assert frames.shape == (5, 32, 32, 3)
    assert [_nearest_index(v) for v in _levels(frames)] == frame_indices(7, 5)


def test_av_fallback_when_decord_is_not_installed(clips: dict,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    reference = load_video(clips["mp4"], backend="av")
    monkeypatch.setitem(sys.modules, "decord", None)  # `import decord` now fails
    with pytest.raises(MediaError, match="not installed"):
        load_video(clips["mp4"], backend="decord")
    np.testing.assert_array_equal(load(clips["mp4"]), reference)


def test_one_frame_video_repeats_it(tmp_path: Path) -> None:
    path = _encode(tmp_path / "one.mp4", 1)
    for backend in ("decord", "av"):
        frames = load_video(path, backend=backend)
        assert frames.shape == (5, 64, 64, 3)
        assert all(np.array_equal(frames[0], f) for f in frames)


def test_frame_count_is_configurable(clips: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    assert num_frames() == 5
    assert load_video(clips["mp4"], count=4).shape[0] == 4
    monkeypatch.setenv(FRAMES_ENV, "4")
    assert num_frames() == 4 and load(clips["mp4"]).shape[0] == 4
    set_num_frames(3)
    try:
        assert load(clips["mp4"]).shape[0] == 3
    finally:
        set_num_frames(None)
    assert num_frames() == 4
    monkeypatch.setenv(FRAMES_ENV, "zero")
    with pytest.raises(XalignError, match=FRAMES_ENV):
        num_frames()
    with pytest.raises(XalignError):
        set_num_frames(0)


def test_sampling_indices() -> None:
    assert frame_indices(16, 5) == [1, 4, 8, 11, 14]
    assert frame_indices(5, 5) == [0, 1, 2, 3, 4]
    assert frame_indices(3, 5) == [0, 0, 1, 2, 2]
    assert frame_indices(1, 5) == [0] * 5
    with pytest.raises(ValueError):
        frame_indices(0, 5)


# -- bad files --------------------------------------------------------------------------------
def _assert_media_error(path: Path, *words: str, backend: str = "auto") -> str:
    with pytest.raises(MediaError) as info:
        load_video(path, backend=backend)
    message = str(info.value).lower()
    assert path.name.lower() in message
    for word in words:
        assert word in message, message
    return message


def test_zero_frame_videos(tmp_path: Path) -> None:
    # AVI with a video stream but no frame; MP4 with no stream at all (x264 wrote no header)
    avi, mp4 = tmp_path / "zero.avi", tmp_path / "zero.mp4"
    _encode(avi, 0, codec="mpeg4")
    _encode(mp4, 0)
    with av.open(str(avi)) as container:
        assert len(container.streams.video) == 1
    _assert_media_error(avi, "no video frames", "0 frames")
    _assert_media_error(mp4, "no video frames", "no video stream")


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4(tmp_path: Path, faststart: bool) -> None:
    options = {"movflags": "faststart"} if faststart else None  # index first: data cut instead
    whole = _encode(tmp_path / "whole.mp4", 20, side=96, options=options)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    for backend in ("auto", "decord", "av"):
        message = _assert_media_error(cut, backend=backend)
        assert "could not decode" in message or "index was cut off" in message, message


def test_random_bytes_empty_missing_and_unsupported(tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _assert_media_error(noise, "not a recognised video container")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    _assert_media_error(empty, "empty")
    _assert_media_error(tmp_path / "missing.mp4", "not found")
    flv = tmp_path / "clip.flv"
    flv.write_bytes(b"FLV\x01" + bytes(64))
    _assert_media_error(flv, "unsupported extension")


def test_wrong_content_for_the_extension(tmp_path: Path, clips: dict) -> None:
    png = tmp_path / "still.mp4"
    Image.new("RGB", (16, 16)).save(png, format="PNG")
    _assert_media_error(png, "not a recognised video container")
    wav = tmp_path / "sound.avi"  # RIFF, but WAVE not AVI
    wav.write_bytes(b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(28))
    _assert_media_error(wav, "not a recognised video container")
    # a real container under another accepted suffix loads by content (documented)
    renamed = tmp_path / "matroska-inside.mp4"
    renamed.write_bytes(clips["mkv"].read_bytes())
    assert load(renamed).shape == (5, 64, 64, 3)
