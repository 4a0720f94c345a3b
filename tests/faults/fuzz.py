"""Mutation fuzzing of the plugins' loaders (issue 16, point 3).

Seeds are valid files written with the real codecs (Pillow, PyAV, soundfile,
open3d, NumPy). A hypothesis strategy mutates one: truncate, flip bits, set or
insert or delete bytes, repeat a chunk, splice in another seed, lie in a header
(an extreme integer over binary header bytes, anywhere in the first 256 or on an
aligned field of the first 64; an extreme number over a count in a text header),
and swap the suffix for another the plugin accepts. A :class:`Worker` loads each
input in a long-lived child process with an address-space cap, and a CPU-time
limit per load (plus a parent-side wall-clock timeout), so a hang or a memory
blow-up is a result, not a stuck test run.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 10.0  # CPU seconds one load may take (the "no hang over 10 s")
WALL_TIMEOUT_S = 60.0  # a load that never answers (blocked, not computing) on a busy machine
EXTRA_ADDRESS_SPACE = 2 << 30  # 2 GiB over the loaded worker: a bomb must be refused before
EXTENSIONS = {
    "image": (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"),
    "video": (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif"),
    "audio": (".wav", ".flac", ".ogg", ".mp3", ".aac", ".m4a", ".mp4", ".mov", ".mkv", ".webm"),
    "3d": (".ply", ".pcd", ".obj", ".off", ".npy", ".npz", ".xyz", ".txt"),
}
_INTERESTING = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
_TEXT_NUMBERS = (b"0", b"1", b"-1", b"2", b"3", b"65535", b"2147483647", b"4294967296",
                 b"99999999999999999999", b"1e308", b"-1e308", b"nan", b"inf", b"0.0", b"x")
_NUMBER = re.compile(rb"-?\d+(\.\d+)?(e[-+]?\d+)?")


@dataclass(frozen=True)
class Seed:
    name: str
    suffix: str
    data: bytes


# -- seeds ---------------------------------------------------------------------------------

def make_seeds(modality: str, folder: Path) -> list[Seed]:
    """Valid files of ``modality`` written with the real codecs, read back as bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"image": _image_seeds, "video": _video_seeds, "audio": _audio_seeds,
             "3d": _point_seeds}[modality](folder)
    return [Seed(p.stem, p.suffix, p.read_bytes()) for p in paths]


def _image_seeds(d: Path) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (10, 9, 4), dtype=np.uint8), "RGBA")
    out = []

    def save(image: Image.Image, name: str, **kw: object) -> None:
        image.save(d / name, **kw)
        out.append(d / name)

    save(rgb, "rgb.png")
    save(rgba, "rgba.png")
    save(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8), "palette.png",
         transparency=0)
    save(Image.fromarray(rng.integers(0, 65535, (8, 8), dtype=np.uint16)), "grey16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate
    save(rgb, "photo.jpg", quality=80, exif=exif.tobytes())
    save(rgb, "progressive.jpeg", progressive=True, quality=70)
    save(rgb.convert("L"), "grey.jpg")
    save(rgb, "lossy.webp", quality=60)
    save(rgba, "lossless.webp", lossless=True)
    save(rgb, "rgb.bmp")
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    save(frames[0], "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return out


def _video_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    return [np.stack([(x * 8 + 20 * i) % 256, (y * 8) % 256, np.full_like(x, 30 * i % 256)],
                     axis=-1).astype(np.uint8) for i in range(count)]


def _write_video(path: Path, codec: str, pix_fmt: str = "yuv420p", frames: int = 6,
                 size: tuple[int, int] = (32, 48), audio: bool = False) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=8)
        stream.height, stream.width = size
        stream.pix_fmt = pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        sound = out.add_stream("aac", rate=16000) if audio else None
        for image in _video_frames(frames, size):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
        if sound is not None:
            _encode_tone(out, sound, 16000, 0.3)
    return path


def _encode_tone(out: object, stream: object, rate: int, seconds: float,
                 channels: int = 1) -> None:
    import av

    n = int(rate * seconds)
    t = np.arange(n) / rate
    tone = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)])
    layout = "mono" if channels == 1 else "stereo"
    frame = av.AudioFrame.from_ndarray(tone.astype(np.float32), format="fltp", layout=layout)
    frame.sample_rate = rate
    for packet in stream.encode(frame):
        out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def _video_seeds(d: Path) -> list[Path]:
    from PIL import Image

    out = [
        _write_video(d / "mpeg4.mp4", "mpeg4"),
        _write_video(d / "h264.mp4", "libx264", audio=True),
        _write_video(d / "mjpeg.avi", "mjpeg", pix_fmt="yuvj420p"),
        _write_video(d / "vp8.webm", "libvpx"),
        _write_video(d / "vp9.mkv", "libvpx-vp9", frames=4),
        _write_video(d / "h264.mov", "libx264", frames=3, size=(16, 16)),
    ]
    frames = [Image.fromarray(f) for f in _video_frames(4, (24, 24))]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    out.append(d / "anim.gif")
    return out


def _audio_seeds(d: Path) -> list[Path]:
    import av
    import soundfile as sf

    t = np.arange(4000) / 8000
    mono = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([mono, mono[::-1]], axis=1)
    sf.write(d / "pcm16.wav", mono, 8000, subtype="PCM_16")
    sf.write(d / "float.wav", stereo, 22050, subtype="FLOAT")
    sf.write(d / "tone.flac", stereo, 16000, subtype="PCM_24")
    sf.write(d / "tone.ogg", mono, 16000, format="OGG", subtype="VORBIS")
    out = [d / "pcm16.wav", d / "float.wav", d / "tone.flac", d / "tone.ogg"]
    for name, container, codec, rate, channels in (
            ("tone.mp3", "mp3", "mp3", 22050, 1), ("tone.aac", "adts", "aac", 16000, 1),
            ("tone.m4a", "mp4", "aac", 16000, 2), ("opus.mkv", "matroska", "libopus", 48000, 1),
            ("opus.webm", "webm", "libopus", 48000, 2)):
        with av.open(str(d / name), "w", format=container) as handle:
            stream = handle.add_stream(codec, rate=rate)
            stream.layout = "mono" if channels == 1 else "stereo"
            _encode_tone(handle, stream, rate, 0.25, channels)
        out.append(d / name)
    out.append(_write_video(d / "with-audio.mp4", "mpeg4", frames=2, audio=True))
    return out


def _point_seeds(d: Path) -> list[Path]:
    import open3d as o3d

    rng = np.random.default_rng(2)
    points = rng.uniform(-1, 1, (40, 3))
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    cloud.colors = o3d.utility.Vector3dVector(rng.uniform(0, 1, (40, 3)))
    o3d.io.write_point_cloud(str(d / "binary.ply"), cloud)
    o3d.io.write_point_cloud(str(d / "ascii.ply"), cloud, write_ascii=True)
    o3d.io.write_point_cloud(str(d / "binary.pcd"), cloud)
    o3d.io.write_point_cloud(str(d / "ascii.pcd"), cloud, write_ascii=True)
    mesh = o3d.geometry.TriangleMesh.create_box(1.0, 0.5, 0.25)
    o3d.io.write_triangle_mesh(str(d / "mesh.ply"), mesh)
    o3d.io.write_triangle_mesh(str(d / "mesh.obj"), mesh)
    o3d.io.write_triangle_mesh(str(d / "mesh.off"), mesh)
    np.save(d / "points.npy", points.astype(np.float32))
    np.savez(d / "named.npz", points=points, normals=points)
    np.savez_compressed(d / "arr.npz", points.astype(np.float32))
    np.savetxt(d / "points.xyz", points, fmt="%.5f")
    np.savetxt(d / "points.txt", np.hstack([points, points]), fmt="%.4f", delimiter=",")
    return sorted(p for p in d.iterdir() if p.is_file())


# -- mutations -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    seed: str
    ops: tuple[str, ...]
    suffix: str
    data: bytes

    def describe(self) -> str:
        return f"{self.seed} -> {self.suffix}: {', '.join(self.ops) or 'unchanged'}"


def _pack(value: int, width: int, big: bool) -> bytes:
    return (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big" if big else "little")


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Seed], modality: str) -> Case:
    """One mutated seed file (hypothesis shrinks a failure to its fewest, smallest edits)."""
    seed = draw(st.sampled_from(seeds))
    data, ops = bytearray(seed.data), []
    kinds = ("truncate", "flip", "set", "insert", "delete", "repeat", "splice", "lie_binary",
             "lie_field", "lie_text")
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4)):
        size = len(data)
        if kind == "truncate":
            at = draw(st.integers(0, max(size - 1, 0)))
            del data[at:]
            ops.append(f"truncate@{at}")
        elif kind in ("flip", "set") and size:
            at = draw(st.integers(0, min(size - 1, draw(st.sampled_from((63, 511, size - 1))))))
            if kind == "flip":
                bit = draw(st.integers(0, 7))
                data[at] ^= 1 << bit
                ops.append(f"flip@{at}.{bit}")
            else:
                data[at] = draw(st.integers(0, 255))
                ops.append(f"set@{at}={data[at]}")
        elif kind == "insert":
            at = draw(st.integers(0, size))
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at:at] = chunk
            ops.append(f"insert@{at}+{len(chunk)}")
        elif kind == "delete" and size:
            at = draw(st.integers(0, size - 1))
            n = draw(st.integers(1, 64))
            del data[at:at + n]
            ops.append(f"delete@{at}-{n}")
        elif kind == "repeat" and size:
            at = draw(st.integers(0, size - 1))
            n = draw(st.integers(1, 256))
            times = draw(st.integers(1, 8))
            data[at:at] = bytes(data[at:at + n]) * times
            ops.append(f"repeat@{at}:{n}x{times}")
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            at = draw(st.integers(0, size))
            start = draw(st.integers(0, max(len(other.data) - 1, 0)))
            data[at:] = other.data[start:]
            ops.append(f"splice@{at}<{other.name}@{start}")
        elif kind == "lie_binary" and size:
            width = draw(st.sampled_from((1, 2, 4, 8)))
            at = draw(st.integers(0, max(min(size, 256) - width, 0)))
            value = draw(st.sampled_from(_INTERESTING))
            big = draw(st.booleans())
            data[at:at + width] = _pack(value, width, big)
            ops.append(f"lie@{at}:{width}{'be' if big else 'le'}={value:#x}")
        elif kind == "lie_field" and size >= 4:
            # an aligned field of a fixed header (a WAV sample rate sits at byte 24)
            width = draw(st.sampled_from((2, 4)))
            at = draw(st.sampled_from(range(0, min(size, 64) - width + 1, width)))
            value = draw(st.sampled_from(_INTERESTING))
            data[at:at + width] = _pack(value, width, big=False)
            ops.append(f"field@{at}:{width}={value:#x}")
        elif kind == "lie_text":
            numbers = list(_NUMBER.finditer(bytes(data[:2048])))
            if numbers:
                match = draw(st.sampled_from(numbers))
                value = draw(st.sampled_from(_TEXT_NUMBERS))
                data[match.start():match.end()] = value
                ops.append(f"text@{match.start()}={value.decode()}")
    swap = draw(st.integers(0, 3)) == 0
    suffix = draw(st.sampled_from(EXTENSIONS[modality])) if swap else seed.suffix
    return Case(seed.name + seed.suffix, tuple(ops), suffix, bytes(data))


# -- the child process ---------------------------------------------------------------------

@dataclass
class Tally:
    """What the fuzzer saw for one plugin."""

    modality: str
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return f"fuzz {self.modality}: {self.total} inputs: {parts}"


class Worker:
    """A child process that loads files for one modality, restarted after a crash or hang."""

    def __init__(self, modality: str, extra_bytes: int = EXTRA_ADDRESS_SPACE) -> None:
        self.modality, self.extra = modality, extra_bytes
        self.proc: subprocess.Popen | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"xalign-fuzz-{os.getpid()}.log"

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.fuzz_worker", self.modality,
                 str(self.extra), str(write_fd)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=(write_fd,), env=env,
                cwd=ROOT)
        os.close(write_fd)
        self.results = os.fdopen(read_fd, "r")
        ready = self._read(timeout=120.0)
        if not ready or not ready.get("ready"):
            raise RuntimeError(f"fuzz worker did not start: {self._log_tail()}")

    def _read(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.results], [], [], timeout)
        if not ready:
            return None
        line = self.results.readline()
        return json.loads(line) if line else {"outcome": "crash"}

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def load(self, path: Path, timeout: float = WALL_TIMEOUT_S) -> dict:
        """The outcome of loading ``path`` in the child (``hang`` and ``crash`` included).

        A hang is more than :data:`TIMEOUT_S` of CPU time, or no answer within ``timeout``
        wall seconds: CPU time, not wall time, so that 2 cores shared by many jobs do not
        turn a 1 s decode into a false hang.
        """
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{path}\n".encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            result = {"outcome": "crash"}
        else:
            result = self._read(timeout)
        if result is None:
            self.close()
            return {"outcome": "hang", "message": f"no answer within {timeout:.0f} s"}
        if result.get("cpu_s", 0.0) > TIMEOUT_S:
            return {**result, "outcome": "hang",
                    "message": f"{result['cpu_s']:.1f} s of CPU (limit {TIMEOUT_S:.0f} s); "
                               f"it ended as {result['outcome']} {result.get('message', '')}"}
        if result.get("outcome") == "crash":
            code = self.proc.wait(timeout=30)
            result["message"] = f"worker died (exit {code}): {self._log_tail()}"
            self.close()
        return result

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=30)
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.results.close()
        self.proc = None
