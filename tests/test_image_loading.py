"""Image loading: real files made with Pillow, every mode to RGB, each bad file a MediaError."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from xalign_plugin_image.loading import MAX_PIXELS_ENV, load, max_pixels, to_rgb

from xalign.errors import MediaError, XalignError

RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # H=48, W=64


def _save(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("suffix,kwargs", [
    (".png", {}), (".bmp", {}), (".webp", {"lossless": True}), (".gif", {}),
])
def test_lossless_formats_round_trip(tmp_path: Path, suffix: str, kwargs: dict) -> None:
    source = Image.fromarray(PHOTO)
    if suffix == ".gif":  # GIF is palette-based: compare against the quantised image
        source = source.quantize(colors=256).convert("RGB")
    path = _save(source, tmp_path / f"x{suffix}", **kwargs)
    image = load(path)
    assert image.mode == "RGB" and image.size == (64, 48)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(source))


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_loads_close_to_source(tmp_path: Path, suffix: str) -> None:
    smooth = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))
    path = _save(Image.fromarray(smooth), tmp_path / f"x{suffix}", quality=95)
    image = load(path)
    assert image.mode == "RGB" and image.size == (64, 48)
    assert np.abs(np.asarray(image, np.int16) - smooth).mean() < 3


def test_greyscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    image = load(_save(Image.fromarray(grey), tmp_path / "grey.png"))
    pixels = np.asarray(image)
    assert image.mode == "RGB" and pixels.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_array_equal(pixels[..., c], grey)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:, :5] = (200, 0, 0, 255)  # opaque red
    rgba[:, 5:] = (0, 0, 200, 0)  # fully transparent blue: must become white, not black/blue
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    image = load(_save(Image.fromarray(rgba), tmp_path / "rgba.png"))
    pixels = np.asarray(image)
    assert tuple(pixels[5, 2]) == (200, 0, 0)
    assert tuple(pixels[5, 7]) == (255, 255, 255)
    assert 120 <= pixels[0, 0, 0] <= 135 and len(set(pixels[0, 0])) == 1


def test_greyscale_with_alpha_is_composited(tmp_path: Path) -> None:
    la = Image.fromarray(np.zeros((4, 4), np.uint8)).convert("LA")
    la.putalpha(0)
    assert set(np.asarray(load(_save(la, tmp_path / "la.png"))).ravel()) == {255}


def test_palette_transparency_is_composited(tmp_path: Path) -> None:
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 4, 8))  # index 0 (black) declared transparent
    for name in ("p.png", "p.gif"):
        path = _save(palette, tmp_path / name, transparency=0)
        pixels = np.asarray(load(path))
        assert tuple(pixels[2, 1]) == (255, 255, 255), name
        assert tuple(pixels[2, 6]) == (255, 0, 0), name


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), (v, v, v)) for v in (30, 140, 250)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3
    pixels = np.asarray(load(path))
    assert pixels.shape == (16, 16, 3) and set(pixels.ravel()) == {30}


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = _save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    red = np.asarray(load(path))[4, 4].astype(int)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_16_bit_greyscale_is_rescaled_not_clipped(tmp_path: Path) -> None:
    wide = np.full((4, 4), 32768, np.uint16)  # half of the 16-bit range
    wide[0, 0] = 65535
    image = Image.fromarray(wide)
    path = _save(image, tmp_path / "wide.png")
    assert Image.open(path).mode.startswith("I")
    pixels = np.asarray(load(path))
    assert pixels[1, 1, 0] in (127, 128) and pixels[0, 0, 0] == 255


def test_to_rgb_handles_float_and_bilevel() -> None:
    floats = Image.fromarray(np.full((3, 3), 0.5, np.float32))
    assert np.asarray(to_rgb(floats))[0, 0, 0] in (127, 128)
    bilevel = Image.new("1", (3, 3), 1)
    assert set(np.asarray(to_rgb(bilevel)).ravel()) == {255}


def test_png_named_jpg_loads_by_content(tmp_path: Path) -> None:
    path = _save(Image.fromarray(PHOTO), tmp_path / "really-a-png.jpg", format="PNG")
    np.testing.assert_array_equal(np.asarray(load(path)), PHOTO)


# -- bad files --------------------------------------------------------------------------------
def _assert_media_error(path: Path, *words: str) -> MediaError:
    with pytest.raises(MediaError) as info:
        load(path)
    message = str(info.value).lower()
    assert path.name.lower() in message
    for word in words:
        assert word in message, message
    return info.value


def test_missing_and_empty_files(tmp_path: Path) -> None:
    _assert_media_error(tmp_path / "nope.png", "not found")
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_media_error(tmp_path / "empty.png", "empty")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = _save(Image.fromarray(PHOTO), tmp_path / "x.tiff")
    _assert_media_error(path, "unsupported extension")


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_files(tmp_path: Path, fmt: str, suffix: str) -> None:
    whole = _save(Image.fromarray(PHOTO), tmp_path / f"whole{suffix}", format=fmt)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    _assert_media_error(cut, "truncated")


def test_random_bytes_and_foreign_content(tmp_path: Path) -> None:
    noise = tmp_path / "noise.png"
    noise.write_bytes(RNG.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    _assert_media_error(noise, "not a recognised image")
    tiff = _save(Image.fromarray(PHOTO), tmp_path / "tiff-inside.png", format="TIFF")
    _assert_media_error(tiff, "not a recognised image")  # a format we do not accept
    wav = tmp_path / "sound.png"
    wav.write_bytes(b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(28))
    _assert_media_error(wav, "not a recognised image")


def _png_declaring(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [20_000, 10_000])  # above 2x Pillow's limit; between 1x and 2x
def test_image_bomb_is_an_error_not_a_warning(tmp_path: Path, side: int) -> None:
    import warnings

    path = _png_declaring(tmp_path / "bomb.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mere warning would fail this test too
        _assert_media_error(path, "bomb")


def test_pixel_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(Image.fromarray(PHOTO), tmp_path / "x.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, str(64 * 48 - 1))
    _assert_media_error(path, "3,072 pixels", MAX_PIXELS_ENV.lower())
    monkeypatch.setenv(MAX_PIXELS_ENV, str(64 * 48))
    assert load(path).size == (64, 48)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(XalignError, match=MAX_PIXELS_ENV):
        max_pixels()
