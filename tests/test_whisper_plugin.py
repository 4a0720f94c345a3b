"""xalign-encoder-whisper as a distribution of its own: what it registers, and that the audio
plugin works without it (``XALIGN_LOAD_PLUGINS`` excluding it stands for uninstalling it)."""

from __future__ import annotations

import pytest

pytest.importorskip("xalign_encoder_whisper")

from xalign.featurize import featurize
from xalign.registry import Registry


def test_audio_plugin_works_without_the_whisper_distribution(monkeypatch) -> None:
    monkeypatch.setenv("XALIGN_LOAD_PLUGINS", "audio")
    registry = Registry().discover()
    assert "whisper" not in registry.plugins and "speech" not in registry.modalities
    ids = {e.id for e in registry.encoders_for("audio")}
    assert "tiny" in ids and not {"whisper-base", "whisper-tiny.en"} & ids
    audio = registry.get("audio")
    encoder = registry.build_encoder("audio")
    features = featurize(audio, encoder, audio.synthesize(0).raw)
    assert features.ndim == 3 and features.shape[-1] == encoder.feature_dim


def test_whisper_distribution_registers_pretrained_encoders(monkeypatch) -> None:
    monkeypatch.setenv("XALIGN_LOAD_PLUGINS", "audio,whisper")
    registry = Registry().discover()
    info = registry.plugins["whisper"]
    assert info.status == "ok", info.error
    assert info.distribution == "xalign-encoder-whisper"
    base = registry.encoder("audio", "whisper-base")
    assert (base.stand_in, base.family, base.feature_dim, base.tokens_per_frame) == (
        False, "whisper", 512, 32)
    assert registry.encoder("audio", "whisper-tiny.en").feature_dim == 384
    assert registry.encoder("audio").id == "tiny"  # the audio plugin's default is unchanged
    assert registry.owner("audio/tiny") == "audio"
    speech = registry.get("speech")
    assert registry.encoder("speech").id == "whisper-base"
    assert registry.encoder("speech", "tiny").stand_in
    assert set(speech.attributes) == {"action", "number", "colour", "object"}
    assert speech.extensions == registry.get("audio").extensions

