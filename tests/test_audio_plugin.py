"""The audio plugin as the host sees it: registration, the Modality contract, end to end."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest
import torch
from xalign_plugin_audio.plugin import ENCODERS, MODALITY

from xalign.encoders import FrozenEncoder
from xalign.errors import MediaError
from xalign.featurize import featurize, featurize_file
from xalign.registry import Registry

TINY = ENCODERS[0]


def test_registers_through_its_entry_point() -> None:
    entry = md.EntryPoint(name="audio", value="xalign_plugin_audio.plugin", group="xalign")
    registry = Registry(strict=True).discover([entry])
    assert registry.names() == ["audio"]
    audio = registry.get("audio")
    assert audio is MODALITY
    assert (audio.cue, audio.frames, audio.encoder) == (" audio: ", 2, "tiny")
    assert {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".mp4"} <= set(audio.extensions)
    assert audio.accepts("clip.FLAC") and not audio.accepts("clip.png")
    assert [e.id for e in registry.encoders_for("audio")] == [
        "tiny", "ast", "beats", "clap", "tiny-designed", "whisper"]
    assert registry.encoder("audio").feature_dim == 256
    assert set(audio.attributes) == {"kind", "pitch", "loudness", "count"}


def test_tiny_encoder_contract() -> None:
    first, second = TINY.instantiate(), TINY.instantiate()
    assert isinstance(first, FrozenEncoder) and first.feature_dim == TINY.feature_dim
    assert not any(p.requires_grad for p in first.parameters())
    first.train()
    assert not first.training  # stays in eval mode
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # same seeded weights every time
    state = torch.random.get_rng_state()
    TINY.instantiate()
    assert torch.equal(state, torch.random.get_rng_state())  # caller's RNG untouched


def test_end_to_end_from_a_synthetic_file(tmp_path: Path) -> None:
    sample = MODALITY.synthesize(0)
    path = MODALITY.write(sample.raw, tmp_path / "sample")
    assert path.suffix == ".flac"
    encoder = TINY.instantiate()
    features = featurize_file(MODALITY, encoder, path)
    assert features.shape == (2, 16, 256)
    assert torch.isfinite(features).all()
    direct = featurize(MODALITY, encoder, sample.raw)
    # FLAC stores 16-bit samples: quantisation noise shifts the quietest bands a little
    assert (features - direct).abs().mean() < 2e-3 and (features - direct).abs().max() < 0.1
    batched = encoder(torch.cat([TINY.preprocess(MODALITY.synthesize(s).raw, False)
                                 for s in (0, 1)]))
    torch.testing.assert_close(batched[:2], direct, rtol=1e-4, atol=1e-4)


def test_different_sounds_give_different_features() -> None:
    encoder = TINY.instantiate()
    a = featurize(MODALITY, encoder, MODALITY.synthesize(1).raw)
    b = featurize(MODALITY, encoder, MODALITY.synthesize(2).raw)
    assert (a[0] - b[0]).abs().mean() > 1e-2
    # the second window of a short clip is all padding: identical across clips
    torch.testing.assert_close(a[1], b[1])


def test_bad_file_reports_path(tmp_path: Path) -> None:
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(MediaError, match=r"broken\.flac"):
        featurize_file(MODALITY, TINY.instantiate(), bad)
