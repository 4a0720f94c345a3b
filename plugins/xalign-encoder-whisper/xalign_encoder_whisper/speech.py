"""Spoken items of the synthetic world: espeak-ng says short closed-vocabulary sentences.

Each sentence names one ``action``, ``number``, ``colour`` and ``object``, e.g. "Move the
three red boxes." or "Can you paint five green cups?", in one of several English voices
(accents, male/female variants), speeds (120–180 words per minute) and pitches. The caption
is the sentence itself (so the caption task is transcription), the attributes are the four
words; ``speed`` is a quantity in [0, 1]. Samples are 16 kHz mono float32, like the audio
plugin's raw items, and deterministic in the seed (espeak-ng is deterministic).

espeak-ng is a system program (Debian/Ubuntu: ``apt-get install espeak-ng``; ``make
system-deps`` installs it); :func:`synthesize` raises :class:`EspeakMissingError` saying so
when it is not on ``PATH``.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile as sf
import torch
from xalign_plugin_audio.resample import SAMPLE_RATE, resample, to_mono

from xalign.errors import XalignError
from xalign.modality import SyntheticSample
from xalign_encoder_whisper.vocab import ATTRIBUTES

PLURALS = {"box": "boxes"}
TEMPLATES = (
    "{Action} the {number} {colour} {objects}.",
    "Please {action} {number} {colour} {objects}.",
    "Can you {action} the {number} {colour} {objects}?",
    "We need to {action} {number} {colour} {objects} today.",
)
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
VARIANTS = ("", "+f2", "+m3", "+f4")
SPEED_WPM = (120, 180)
PITCH = (35, 65)


class EspeakMissingError(XalignError):
    """espeak-ng is not installed: spoken synthetic items cannot be made."""

    def __init__(self) -> None:
        super().__init__("espeak-ng not found on PATH: spoken synthetic items need it; install "
                         "it with `sudo apt-get install espeak-ng` (or `make system-deps`)")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> torch.Tensor:
    """espeak-ng's rendering of ``text`` as a mono 16 kHz float32 waveform."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EspeakMissingError()
    result = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout",
                             text], capture_output=True, check=False, timeout=60)
    if result.returncode != 0 or not result.stdout:
        raise XalignError(f"espeak-ng failed for voice {voice!r}: "
                          f"{result.stderr.decode(errors='replace').strip() or 'no audio'}")
    samples, rate = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    return torch.from_numpy(resample(to_mono(samples), rate, SAMPLE_RATE))


def sentence(attrs: dict[str, str], template: str) -> str:
    obj = attrs["object"]
    return template.format(Action=attrs["action"].capitalize(), action=attrs["action"],
                           number=attrs["number"], colour=attrs["colour"],
                           objects=PLURALS.get(obj, obj + "s"))


def synthesize(seed: int) -> SyntheticSample:
    """One deterministic spoken sentence; the caption is the sentence."""
    rng = np.random.default_rng(seed)
    attrs = {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}
    text = sentence(attrs, str(rng.choice(TEMPLATES)))
    voice = str(rng.choice(VOICES)) + str(rng.choice(VARIANTS))
    speed = int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1))
    pitch = int(rng.integers(PITCH[0], PITCH[1] + 1))
    wave = speak(text, voice, speed, pitch)
    quantities = {"speed": (speed - SPEED_WPM[0]) / (SPEED_WPM[1] - SPEED_WPM[0])}
    return SyntheticSample(raw=wave, caption=text, attributes=attrs, quantities=quantities)
