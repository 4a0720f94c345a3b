"""The audio side of the offline synthetic world: tones, chords and beeps.

Each clip (16 kHz mono, 0.5–4.7 s: it fits the first 5.12 s window) holds ``count``
sound events of one ``kind`` at one ``pitch`` and ``loudness`` over a faint noise
floor. Events start every inter-onset interval (IOI); tones and chords last 70% of
it (a lone tone or chord 0.8–2 s), beeps 0.1 s.

Quantities (all in [0, 1]): ``pitch`` (log frequency between 100 Hz and 4 kHz),
``loudness`` (peak level between −40 and 0 dBFS) and, for two or more events,
``speed`` (beat rate between 1/1.1 s and 1/0.35 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from xalign.modality import SyntheticSample
from xalign_plugin_audio.formats import ATTRIBUTES, EXTENSIONS
from xalign_plugin_audio.resample import SAMPLE_RATE

PITCH_HZ = {"low": (150.0, 300.0), "mid": (500.0, 1000.0), "high": (1800.0, 3600.0)}
LEVEL_DB = {"quiet": (-36.0, -28.0), "loud": (-12.0, -4.0)}
IOI_S = (0.35, 1.1)
CHORD_RATIOS = (1.0, 1.26, 1.5)  # major triad
NOUNS = {"tone": ("tone", "tones"), "chord": ("chord", "chords"), "beeps": ("beep", "beeps")}
TEMPLATES = (
    "{Count} {loudness} {pitch}-pitched {noun}.",
    "A recording of {count} {loudness} {pitch}-pitched {noun}.",
    "You can hear {count} {pitch}-pitched {noun}; the sound is {loudness}.",
)


def _envelope(n: int, fade: int) -> np.ndarray:
    """Flat envelope with raised-cosine fades, so events do not click."""
    env = np.ones(n)
    fade = min(fade, n // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    env[:fade], env[n - fade:] = ramp, ramp[::-1]
    return env


def _event(kind: str, freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    ratios = CHORD_RATIOS if kind == "chord" else (1.0,)
    wave = sum(np.sin(2 * np.pi * freq * r * t + rng.uniform(0, 2 * np.pi)) for r in ratios)
    wave = wave / np.abs(wave).max()
    return wave * _envelope(t.size, int(0.01 * SAMPLE_RATE))


def synthesize(seed: int) -> SyntheticSample:
    """One deterministic synthetic clip; the caption names every attribute."""
    rng = np.random.default_rng(seed)
    attrs = {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}
    count = ATTRIBUTES["count"].index(attrs["count"]) + 1
    freq = float(np.exp(rng.uniform(*np.log(PITCH_HZ[attrs["pitch"]]))))
    level_db = float(rng.uniform(*LEVEL_DB[attrs["loudness"]]))
    ioi = float(rng.uniform(*IOI_S))
    lead = rng.uniform(0.1, 0.4)
    length = 0.7 * ioi if attrs["kind"] != "beeps" else 0.1
    if count == 1 and attrs["kind"] != "beeps":
        length = rng.uniform(0.8, 2.0)
    total = lead + (count - 1) * ioi + length + 0.3
    wave = rng.normal(0.0, 10 ** (-60 / 20), int(total * SAMPLE_RATE))  # noise floor
    amplitude = 10 ** (level_db / 20)
    for i in range(count):
        start = int((lead + i * ioi) * SAMPLE_RATE)
        event = amplitude * _event(attrs["kind"], freq, length, rng)
        wave[start: start + event.size] += event
    quantities = {
        "pitch": float(np.clip(np.log(freq / 100) / np.log(40), 0, 1)),
        "loudness": float(np.clip((level_db + 40) / 40, 0, 1)),
    }
    if count >= 2:
        low, high = 1 / IOI_S[1], 1 / IOI_S[0]
        quantities["speed"] = float(np.clip((1 / ioi - low) / (high - low), 0, 1))
    caption = str(rng.choice(TEMPLATES)).format(
        Count=attrs["count"].capitalize(), count=attrs["count"], loudness=attrs["loudness"],
        pitch=attrs["pitch"], noun=NOUNS[attrs["kind"]][count > 1])
    raw = torch.from_numpy(np.clip(wave, -1, 1).astype(np.float32))
    return SyntheticSample(raw=raw, caption=caption, attributes=attrs, quantities=quantities)


def write(raw: torch.Tensor | np.ndarray, path: str | Path) -> Path:
    """Save a 16 kHz waveform as 16-bit FLAC (audio suffixes become ``.flac``); return the path."""
    path = Path(path)
    if path.suffix.lower() in EXTENSIONS:
        path = path.with_suffix(".flac")
    elif path.suffix.lower() != ".flac":  # e.g. "clip.0001": keep the name, add the suffix
        path = path.with_name(path.name + ".flac")
    samples = np.clip(torch.as_tensor(raw, dtype=torch.float32).numpy(), -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return path
