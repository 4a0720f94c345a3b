"""Decode an image file into an RGB :class:`PIL.Image.Image`.

Every failure (missing, empty, truncated, not an image, image bomb) becomes a
:class:`~xalign.errors.MediaError` that names the file. The format is read from
the content, not the suffix: a PNG saved as ``.jpg`` loads (such files are
common in scraped data sets), while content that is not one of the accepted
image formats is refused whatever its suffix.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from xalign.errors import EnvironmentFault, MediaError, XalignError
from xalign.media import check_file

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
# Pillow format names accepted by content sniffing (JPEG also opens MPO camera files).
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
# Pillow's default bomb threshold, as the plugin's only limit (XALIGN_IMAGE_MAX_PIXELS changes
# it; Pillow's own check, which refuses only above twice it, is replaced: see _open_within).
DEFAULT_MAX_PIXELS = 89_478_485
MAX_PIXELS_ENV = "XALIGN_IMAGE_MAX_PIXELS"
BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white


def max_pixels() -> int:
    """Largest width × height the loader decodes (env ``XALIGN_IMAGE_MAX_PIXELS``)."""
    value = os.environ.get(MAX_PIXELS_ENV)
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise XalignError(f"{MAX_PIXELS_ENV} must be a positive integer, got {value!r}")
    return limit


def check_environment() -> None:
    """Raise :class:`EnvironmentFault` when this Pillow build lacks a decoder the plugin
    promises (JPEG, PNG/zlib, WEBP); without it every such file would look corrupt."""
    from PIL import features

    missing = [name for name, ok in (("JPEG", features.check_codec("jpg")),
                                     ("PNG", features.check_codec("zlib")),
                                     ("WEBP", features.check_module("webp"))) if not ok]
    if missing:
        raise EnvironmentFault(f"this Pillow build has no {', '.join(missing)} decoder",
                               "pip install --force-reinstall pillow (a wheel bundles them)")


def load(path: str | Path) -> Image.Image:
    """Load the first frame of an image file as an RGB image.

    Raises :class:`MediaError` for a missing, empty, truncated or corrupt file,
    content that is not JPEG/PNG/WEBP/BMP/GIF, or a declared size above
    :func:`max_pixels` (checked from the header, before any pixel is decoded).
    """
    path = check_file(path, EXTENSIONS)
    check_environment()  # a missing decoder is the machine's fault, not the file's
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            # a backstop only (the header was checked): a bomb must stop, never just warn
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open_within(path, limit) as image:
                if image.format == "PNG":
                    check_png_chunks(path)
                image.load()  # decodes now, so truncation is caught here
                return to_rgb(_upright(image))
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(path, f"possible decompression bomb: a frame is larger than the image "
                               f"header declares ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise MediaError(
            path, "not a recognised image (expected JPEG, PNG, WEBP, BMP or GIF content)"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow reports truncation and corrupt streams as OSError / SyntaxError.
        raise MediaError(path, f"corrupt or truncated image: {exc}") from exc


# Pillow's own bomb check (``Image._decompression_bomb_check``, against the process-wide
# ``Image.MAX_IMAGE_PIXELS``) only warns up to twice that setting and refuses above it, in
# words that name neither the size nor xalign's setting. While a header is read, the plugin's
# check takes its place, at every point where Pillow checks (before the WebP decoder allocates
# its canvas, when a GIF frame grows the image), so the plugin's limit is the only one.
_PILLOW_CHECK = threading.Lock()


def check_png_chunks(path: Path) -> None:
    """Refuse a PNG whose chunk lengths run past the end of the file.

    Pillow reads a chunk's declared length in one call, so a lying length field (found by
    the fuzzer: ``tests/test_fuzz_loaders.py``) asks for gigabytes from a small file and
    ends in ``MemoryError`` rather than a decode error.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(8)  # the signature
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return  # a cut file: Pillow reports truncation itself
            length, kind = int.from_bytes(header[:4], "big"), header[4:]
            end = handle.tell() + length + 4  # data and CRC
            if end > size:
                raise MediaError(path, f"corrupt PNG: chunk {kind!r} declares {length:,} "
                                       f"bytes, past the end of the {size:,}-byte file")
            if kind == b"IEND":
                return
            handle.seek(end)


def _open_within(path: Path, limit: int) -> Image.Image:
    """Open ``path`` (header only) and refuse it when it declares more than ``limit`` pixels;
    positioned on the first frame, not yet decoded."""
    def check(size: tuple[int, int], *_: object, **__: object) -> None:
        if size[0] * size[1] > limit:
            raise MediaError(path, _bomb_reason(size[0], size[1], limit))

    with _PILLOW_CHECK:
        pillows = Image._decompression_bomb_check
        Image._decompression_bomb_check = check
        try:
            image = Image.open(path, formats=FORMATS)
            try:
                check(image.size)  # also when Pillow renames its check
                image.seek(0)
            except BaseException:
                image.close()
                raise
        finally:
            Image._decompression_bomb_check = pillows
    return image


def _bomb_reason(width: int, height: int, limit: int) -> str:
    where = "set by" if MAX_PIXELS_ENV in os.environ else "default; change it with"
    return (f"image declares {width:,} x {height:,} = {width * height:,} pixels, above the "
            f"image plugin's limit of {limit:,} pixels ({where} {MAX_PIXELS_ENV}=<pixels>); "
            f"refused as a possible decompression bomb before decoding")


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation so a photo is seen as its viewer shows it."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not cost the pixels
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    Transparency (RGBA, LA, PA, palette or tRNS transparency) is composited on
    white rather than dropped, so a transparent background does not turn black.
    16/32-bit integer and float greyscale are rescaled, not clipped.
    """
    if image.mode == "RGB":
        return image.copy() if "transparency" not in image.info else _flatten(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _wide_grey_to_rgb(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return _flatten(image)
    return image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        scale = 65535.0
    else:  # "I" / "F" carry no declared range: infer the common ones
        peak = float(values.max()) if values.size else 0.0
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
    grey = np.clip(np.rint(values / scale * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")
