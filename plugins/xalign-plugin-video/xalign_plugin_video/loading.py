"""Decode a video file into ``num_frames()`` uniformly sampled RGB frames.

The raw type is a ``uint8`` array ``[F, H, W, 3]``. decord is tried first and
PyAV is the fallback when decord is not installed or cannot read the file
(decord cannot read GIF, for one). The container is recognised from its first
bytes before any decoder sees the file: content that is not MP4/MOV, AVI,
Matroska/WebM or GIF is refused with a clear reason whatever its suffix, while
a known container under another of the accepted suffixes (an MKV named
``.mp4``) loads. A video with no frame is an error; a video with fewer frames
than requested repeats frames (a 1-frame video gives that frame F times).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np

from xalign.errors import MediaError
from xalign.media import check_file, import_dependency
from xalign_plugin_video.decoders import NoFrames, read_av, read_decord
from xalign_plugin_video.sampling import num_frames

EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")
Backend = Literal["auto", "decord", "av"]
_DECORD_PREFIX = re.compile(r"^\[[\d:]+\] \S+:\d+: ")
_LABELS = {"decord": "decord", "av": "PyAV (FFmpeg)"}
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def container_kind(head: bytes) -> str | None:
    """The container family of a file from its first 12 bytes, or ``None``."""
    if head[4:8] in _MP4_BOXES:
        return "MP4/MOV"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def check_environment() -> None:
    """Raise :class:`~xalign.errors.EnvironmentFault` when PyAV, the decoder every file can
    fall back to, is missing (decord is optional and never required)."""
    import_dependency("av", needed_for="video decoding", pip="av")


def load(path: str | Path) -> np.ndarray:
    """Load ``num_frames()`` uniformly sampled frames as ``uint8 [F, H, W, 3]`` (RGB)."""
    return load_video(path)


def load_video(path: str | Path, count: int | None = None,
               backend: Backend = "auto") -> np.ndarray:
    """Like :func:`load`, with an explicit frame ``count`` and decoder ``backend``."""
    path = check_file(path, EXTENSIONS)
    check_environment()  # a missing decoder stops here instead of marking the file bad
    with path.open("rb") as handle:
        kind = container_kind(handle.read(12))
    if kind is None:
        raise MediaError(path, "not a recognised video container "
                               "(expected MP4/MOV, AVI, Matroska/WebM or GIF content)")
    count = count or num_frames()
    failures: list[str] = []
    readers = {"auto": (read_decord, read_av), "decord": (read_decord,), "av": (read_av,)}
    for reader in readers[backend]:
        name = "decord" if reader is read_decord else "av"
        try:
            frames = reader(path, count)
        except NoFrames as exc:
            if reader is read_av or backend == "decord":
                raise MediaError(path, f"{kind} file with no video frames: {exc}") from exc
            failures.append(f"decord: {exc}")
        except ImportError as exc:
            # an optional decoder that is not installed was not tried: only worth a word when
            # it was asked for by name
            if backend != "auto":
                raise MediaError(path, f"the {name} decoder asked for is not installed "
                                       f"(pip install {name})") from exc
        except Exception as exc:
            failures.append(f"{_LABELS[name]}: {_reason(exc, path)}")
        else:
            return _checked(path, frames, count)
    if not failures:  # nothing could be tried (normally stopped by check_environment)
        raise MediaError(path, "no video decoder is installed (pip install av)")
    raise MediaError(path, f"could not decode the {kind} video (truncated or corrupt?): "
                           + "; ".join(failures))


def _checked(path: Path, frames: np.ndarray, count: int) -> np.ndarray:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != count \
            or frames.shape[-1] != 3:
        raise MediaError(path, f"decoder returned frames of shape {frames.shape} "
                               f"{frames.dtype}; expected [{count}, H, W, 3] uint8")
    return np.ascontiguousarray(frames)


def _reason(exc: Exception, path: Path) -> str:
    """What a decoder said, for a person: FFmpeg's text without its raw errno (PyAV errors
    carry it apart, in ``strerror``); decord's first line without its time, C++ source
    location and stack trace; the file (named by the MediaError already) as "the file"."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror.strip():
        text = strerror.strip()
    else:
        lines = str(exc).strip().splitlines()
        text = _DECORD_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
    text = text.replace(str(path), "the file").rstrip(". ") or type(exc).__name__
    if text[:1].isupper() and text[1:2].islower():  # "Invalid data" -> "invalid data"
        text = text[0].lower() + text[1:]
    return text[:200]
