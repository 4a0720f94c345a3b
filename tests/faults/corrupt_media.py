"""Generators of bad (and awkward but valid) media files for every modality.

Each case is a file on disk plus whether loading it must fail. Generic cases
come from the modality's own synthetic writer (truncate it, replace it with
random bytes, empty it, give it another modality's content); specific cases
are made with the real codecs (Pillow, soundfile, av, numpy).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xalign.modality import Modality


@dataclass(frozen=True)
class MediaCase:
    name: str
    path: Path
    bad: bool  # True: load/preprocess must raise MediaError; False: must succeed


def generic_cases(modality: Modality, other: Modality, directory: Path) -> list[MediaCase]:
    """Cases every modality must handle, built from its synthetic writer."""
    directory.mkdir(parents=True, exist_ok=True)
    good = modality.write(modality.synthesize(7).raw, directory / "good")
    suffix = good.suffix
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    cases = [MediaCase("good", good, bad=False)]

    truncated = directory / f"truncated{suffix}"
    truncated.write_bytes(data[: max(1, len(data) // 3)])
    cases.append(MediaCase("truncated", truncated, bad=True))

    noise = directory / f"random-bytes{suffix}"
    noise.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    cases.append(MediaCase("random bytes", noise, bad=True))

    empty = directory / f"empty{suffix}"
    empty.write_bytes(b"")
    cases.append(MediaCase("zero length", empty, bad=True))

    foreign = other.write(other.synthesize(3).raw, directory / "foreign")
    disguised = directory / f"other-modality{suffix}"
    disguised.write_bytes(foreign.read_bytes())
    cases.append(MediaCase("wrong extension (other modality's content)", disguised, bad=True))

    missing = directory / f"missing{suffix}"
    cases.append(MediaCase("missing file", missing, bad=True))

    unknown = directory / "good.unknownext"
    unknown.write_bytes(data)
    cases.append(MediaCase("unsupported extension", unknown, bad=True))
    return cases


def _png_with_huge_header(path: Path) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
                     + chunk(b"IEND", b""))
    return path


def image_cases(directory: Path) -> list[MediaCase]:
    return [MediaCase("huge declared dimensions", _png_with_huge_header(directory / "bomb.png"),
                      bad=True)]


def audio_cases(directory: Path) -> list[MediaCase]:
    import soundfile as sf

    rate = 16_000
    nan = np.zeros(rate, dtype=np.float32)
    nan[100:200] = np.nan
    cases = []
    for name, samples, bad in [
        ("NaN samples", nan, True),
        ("all NaN", np.full(rate, np.nan, dtype=np.float32), True),
        ("inf samples", np.full(rate, np.inf, dtype=np.float32), True),
        ("silent", np.zeros(rate, dtype=np.float32), False),
        ("1 ms", np.ones(16, dtype=np.float32) * 0.1, False),
    ]:
        path = directory / f"{name.replace(' ', '-')}.wav"
        sf.write(path, samples, rate, subtype="FLOAT")
        cases.append(MediaCase(name, path, bad))
    return cases


def video_cases(directory: Path) -> list[MediaCase]:
    import av

    cases = []
    for name, count, bad in [("0 frames", 0, True), ("1 frame", 1, False)]:
        path = directory / f"{name.replace(' ', '-')}.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=8)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            container.start_encoding()  # writes the header even when no frame follows
            for _ in range(count):
                frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8),
                                                   format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        cases.append(MediaCase(name, path, bad))
    return cases


def pointcloud_cases(directory: Path) -> list[MediaCase]:
    cases = []
    sphere = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    with_nan = sphere.copy()
    with_nan[3] = np.nan
    with_inf = sphere.copy()
    with_inf[5, 1] = np.inf
    for name, points, bad in [
        ("one point", np.zeros((1, 3), np.float32), True),
        ("two points", np.eye(2, 3, dtype=np.float32), True),
        ("NaN points", with_nan, True),
        ("inf points", with_inf, True),
        ("small cloud (padded)", sphere[:50], False),
    ]:
        path = directory / f"{name.split(' (')[0].replace(' ', '-')}.npy"
        np.save(path, points)
        cases.append(MediaCase(name, path, bad))
    return cases


SPECIFIC: dict[str, Callable[[Path], list[MediaCase]]] = {
    "image": image_cases, "audio": audio_cases, "video": video_cases, "3d": pointcloud_cases,
}


def all_cases(modality: Modality, other: Modality, directory: Path) -> list[MediaCase]:
    """Generic plus modality-specific cases for ``modality``."""
    cases = generic_cases(modality, other, directory / "generic")
    specific = SPECIFIC.get(modality.name)
    if specific:
        (directory / "specific").mkdir(parents=True, exist_ok=True)
        cases += specific(directory / "specific")
    return cases
