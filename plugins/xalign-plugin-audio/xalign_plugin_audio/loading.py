"""Decode an audio (or video) file into the raw item: a mono 16 kHz float32 waveform.

``soundfile`` reads wav/flac/ogg, PyAV reads mp3/aac/m4a and the first audio
track of video containers (mp4/mov/mkv/webm). Channels are averaged, the rate is
converted with :func:`~xalign_plugin_audio.resample.resample`. The container
found in the bytes must match the file's extension, so a mislabelled file is
reported instead of being decoded by luck. Every failure is a
:class:`~xalign.errors.MediaError` naming the file and the reason.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from xalign.errors import MediaError
from xalign.media import check_file, import_dependency
from xalign_plugin_audio.formats import AV_TYPES, EXTENSIONS, SOUNDFILE_TYPES
from xalign_plugin_audio.resample import SAMPLE_RATE, resample, to_mono

MIN_RATE, MAX_RATE = 1_000, 768_000  # Hz: telephone-band and below to studio rates


def _soundfile() -> ModuleType:
    # soundfile loads libsndfile through cffi: a missing library is an OSError at import
    return import_dependency("soundfile", needed_for="wav/flac/ogg audio", pip="soundfile",
                             system_packages={"sndfile": "libsndfile1"})


def _av() -> ModuleType:
    return import_dependency("av", needed_for="mp3/aac/m4a audio and the audio of videos",
                             pip="av")


def check_environment() -> None:
    """Raise :class:`~xalign.errors.EnvironmentFault` when soundfile or PyAV cannot load."""
    _soundfile()
    _av()


def load(path: str | Path) -> torch.Tensor:
    """Read ``path`` as a mono 16 kHz waveform ``Tensor[num_samples]`` (float32, ±1 scale).

    Raises :class:`MediaError` for a missing, empty, corrupt or mislabelled file,
    a container with no audio track, zero samples, or NaN/inf samples.
    """
    path = check_file(path, EXTENSIONS)
    suffix = path.suffix.lower()
    # outside the try below: a missing decoder is an EnvironmentFault, never a bad file
    decoder = _soundfile() if suffix in SOUNDFILE_TYPES else _av()
    try:
        if suffix in SOUNDFILE_TYPES:
            samples, rate = _read_soundfile(decoder, path, suffix)
        else:
            samples, rate = _read_av(decoder, path, suffix)
    except MediaError:
        raise
    except Exception as exc:  # decoder errors come in many types; all mean "cannot decode"
        raise MediaError(path, f"cannot decode audio ({type(exc).__name__}: {exc})") from exc
    return waveform_from_samples(samples, rate, path)


def waveform_from_samples(samples: np.ndarray, rate: int,
                          path: str | Path | None = None) -> torch.Tensor:
    """Down-mix, validate and resample decoded samples ``[frames(, channels)]``."""
    if not MIN_RATE <= rate <= MAX_RATE:
        # a lying header: 1 Hz made a 4,000-frame clip 64M samples long (47 s to resample),
        # 2^31 Hz asked for a 320 GiB filter (found by tests/test_fuzz_loaders.py)
        raise MediaError(path, f"sample rate {rate:,} Hz is outside {MIN_RATE:,}-{MAX_RATE:,} "
                               "Hz (corrupt header?)")
    mono = to_mono(samples)
    if mono.size == 0:
        raise MediaError(path, "contains no audio samples (0 frames)")
    bad = int(np.count_nonzero(~np.isfinite(mono)))
    if bad:
        raise MediaError(path, f"{bad} of {mono.size} samples are NaN or infinite")
    return torch.from_numpy(resample(mono, rate, SAMPLE_RATE))


def _read_soundfile(sf: ModuleType, path: Path, suffix: str) -> tuple[np.ndarray, int]:
    with sf.SoundFile(str(path)) as audio:
        if audio.format not in SOUNDFILE_TYPES[suffix]:
            raise MediaError(path, f"content is {audio.format} but the extension is {suffix!r}; "
                                   "rename or convert the file")
        declared = audio.frames
        samples = audio.read(dtype="float32", always_2d=True)
        if samples.shape[0] < declared:
            raise MediaError(path, f"truncated: header declares {declared} frames, "
                                   f"only {samples.shape[0]} decoded")
        return samples, audio.samplerate


def _read_av(av: ModuleType, path: Path, suffix: str) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        demuxer = set(container.format.name.split(","))
        if not demuxer & AV_TYPES[suffix]:
            raise MediaError(path, f"content is {container.format.name!r} but the extension is "
                                   f"{suffix!r}; rename or convert the file")
        if not container.streams.audio:
            raise MediaError(path, "has no audio track")
        stream = container.streams.audio[0]
        to_float = av.AudioResampler(format="fltp")  # sample format only; rate and layout kept
        chunks, rate = [], None
        for frame in container.decode(stream):
            rate = rate or frame.sample_rate
            for converted in to_float.resample(frame):
                chunks.append(converted.to_ndarray().T)  # planar [C, n] -> [n, C]
        chunks.extend(f.to_ndarray().T for f in to_float.resample(None))  # flush
        if not chunks:
            raise MediaError(path, "contains no audio samples (0 frames)")
        return np.concatenate(chunks, axis=0), int(rate)
