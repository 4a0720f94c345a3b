"""Messages a user can act on (issue 16, point 4), on real files made with Pillow and PyAV.

* an image bomb is refused in the image plugin's words: the declared dimensions, the plugin's
  limit and the setting that changes it; that limit is the only one (Pillow's own check,
  which refuses only above twice its setting, is not applied on top);
* a video no decoder can read names the decoders that were tried and what each said, with
  neither FFmpeg's raw errno nor a word about an optional decoder that is not installed.
"""

from __future__ import annotations

import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from xalign_plugin_image.loading import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, load

from xalign.errors import MediaError

PHOTO = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)  # 64 x 48


def _media_error(path: Path, load_fn=load, **kwargs) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mere warning is not a refusal
        with pytest.raises(MediaError) as info:
            load_fn(path, **kwargs)
    assert info.value.path == str(path)
    return info.value.reason


# -- image bombs ------------------------------------------------------------------------------

def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A PNG written by Pillow whose header then declares ``width`` x ``height``."""
    Image.fromarray(PHOTO).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def _webp_declaring(path: Path, side: int) -> Path:
    """A lossless WebP written by Pillow whose VP8L header then declares ``side`` x ``side``
    (the largest WebP canvas is 16383 x 16383)."""
    Image.fromarray(PHOTO).save(path, lossless=True)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = struct.unpack("<I", data[21:25])[0]
    bits = (bits & ~((1 << 28) - 1)) | (side - 1) | ((side - 1) << 14)
    data[21:25] = struct.pack("<I", bits)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [100_000, 10_000])  # above twice Pillow's setting; 1x-2x
def test_bomb_names_dimensions_limit_and_setting(tmp_path: Path, side: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    reason = _media_error(_png_declaring(tmp_path / "bomb.png", side, side))
    assert f"{side:,} x {side:,} = {side * side:,} pixels" in reason
    assert f"image plugin's limit of {DEFAULT_MAX_PIXELS:,} pixels" in reason
    assert f"change it with {MAX_PIXELS_ENV}=<pixels>" in reason
    # not Pillow's wording, nor its limit (twice the plugin's)
    assert "DOS attack" not in reason and str(2 * DEFAULT_MAX_PIXELS) not in reason
    assert f"{2 * DEFAULT_MAX_PIXELS:,}" not in reason


def test_webp_bomb_is_refused_before_its_canvas_is_allocated(tmp_path: Path) -> None:
    # Pillow checks a WebP's size inside Image.open, before the decoder allocates 16383^2 x 4
    # bytes: the plugin's check (and words) must apply there too
    reason = _media_error(_webp_declaring(tmp_path / "bomb.webp", 16383))
    assert "16,383 x 16,383 = 268,402,689 pixels" in reason and MAX_PIXELS_ENV in reason


def test_the_plugins_limit_is_the_only_one(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(PHOTO).save(path)
    pillows_check = Image._decompression_bomb_check
    # Pillow set to refuse above 2 x 1000 pixels: with the setting raised to exactly the
    # image's size, it loads all the same, without a warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setenv(MAX_PIXELS_ENV, str(64 * 48))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load(path).size == (64, 48)
    monkeypatch.setenv(MAX_PIXELS_ENV, str(64 * 48 - 1))
    reason = _media_error(path)
    assert "64 x 48 = 3,072 pixels" in reason
    assert f"limit of 3,071 pixels (set by {MAX_PIXELS_ENV}=<pixels>)" in reason
    # Pillow's own setting and check are left as they were, for the rest of the process
    assert Image.MAX_IMAGE_PIXELS == 1000 and Image._decompression_bomb_check is pillows_check


# -- video decoders ---------------------------------------------------------------------------

av = pytest.importorskip("av")


def _truncated_mp4(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 20 * i, np.uint8),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # the index (moov) is at the end: cut off
    return path


def _no_noise(reason: str) -> None:
    for noise in ("Errno", "1094995529", "No module named", "not installed", "halted"):
        assert noise not in reason, reason


def test_undecodable_video_names_each_decoder_tried(tmp_path: Path) -> None:
    from xalign_plugin_video.loading import load_video

    pytest.importorskip("decord")
    path = _truncated_mp4(tmp_path / "clip.mp4")
    reason = _media_error(path, load_video)
    assert reason.startswith("could not decode the MP4/MOV video (truncated or corrupt?): ")
    assert "decord: " in reason
    assert "PyAV (FFmpeg): invalid data found when processing input" in reason
    assert str(path) not in reason and path.name not in reason  # MediaError names it once
    _no_noise(reason)


def test_a_decoder_not_installed_is_not_mentioned(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from xalign_plugin_video.loading import load_video

    path = _truncated_mp4(tmp_path / "clip.mp4")
    monkeypatch.setitem(sys.modules, "decord", None)  # `import decord` now fails
    reason = _media_error(path, load_video)
    assert reason == ("could not decode the MP4/MOV video (truncated or corrupt?): "
                      "PyAV (FFmpeg): invalid data found when processing input")
    # asked for by name, a missing decoder is the whole story, with the fix
    reason = _media_error(path, load_video, backend="decord")
    assert reason == "the decord decoder asked for is not installed (pip install decord)"
