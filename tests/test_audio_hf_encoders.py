"""transformers audio encoders (AST, CLAP, Whisper) from tiny random models saved to tmp,
and the fidelity of the inputs each adapter builds from our fbank windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import resample_poly
from xalign_plugin_audio.encoders import build_encoder
from xalign_plugin_audio.encoders.hf_inputs import ASTInput, ClapInput, WhisperInput
from xalign_plugin_audio.preprocess import preprocess

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError

tf = pytest.importorskip("transformers")
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

RATE = 16_000
CLAP_AUDIO = dict(spec_size=256, num_mel_bins=64, depths=[1, 1], num_attention_heads=[1, 2],
                  patch_embeds_hidden_size=16, hidden_size=32, window_size=8)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Keep these small models off a shared machine's thread pool; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def saved(model: torch.nn.Module, path: Path) -> str:
    model.save_pretrained(path)
    return str(path)


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(6 * RATE) / RATE  # longer than one window: no padding inside it
    floor = 1e-3 * rng.standard_normal(t.size)
    return {
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) + floor,
        "chirp": 0.3 * np.sin(2 * np.pi * (100 * t + 300 * t**2)) + floor,
        "noise": 0.05 * rng.standard_normal(t.size),
    }


def test_ast(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = tf.ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_length=600)
    model = tf.ASTModel(config).eval()
    encoder = build_encoder(saved(model, tmp_path / "ast"))
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == 32
    windows = torch.stack([preprocess(s.astype(np.float32))[0] for s in signals().values()])
    features = encoder(windows)
    assert features.shape == (3, 2 + 12 * 59, 32)  # cls + distillation + 12 x 59 patches
    # the encoder equals ASTModel fed by ASTFeatureExtractor on the same 5.12 s of audio
    extractor = tf.ASTFeatureExtractor(max_length=600)
    clip = next(iter(signals().values())).astype(np.float32)[: 400 + 511 * 160]
    values = extractor(clip, sampling_rate=RATE, return_tensors="pt").input_values
    with torch.no_grad():
        expected = model(input_values=values).last_hidden_state
    torch.testing.assert_close(encoder(windows[:1]), expected, rtol=1e-4, atol=1e-4)


def test_ast_inputs_equal_the_feature_extractor_including_padding() -> None:
    extractor = tf.ASTFeatureExtractor()
    inputs = ASTInput(1024, extractor.mean, extractor.std)
    for name, sig in signals().items():
        short = sig[: 3 * RATE].astype(np.float32)  # 298 frames, the rest padding
        ours = inputs(preprocess(short)[:1])[0]
        ref = extractor(short, sampling_rate=RATE, return_tensors="pt").input_values[0]
        assert (ours - ref).abs().max() < 1e-4, name


def test_whisper(tmp_path: Path) -> None:
    config = tf.WhisperConfig(
        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
        max_source_positions=300, max_target_positions=16, vocab_size=64, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    torch.manual_seed(0)
    encoder = build_encoder(saved(tf.WhisperModel(config), tmp_path / "whisper"))
    assert encoder.feature_dim == 32
    windows = preprocess(signals()["chord"].astype(np.float32))
    features = encoder(windows)
    assert features.shape == (2, 256, 32)  # positions covering the 512 frames
    assert torch.isfinite(features).all()
    # the front end stays in float32 when the model runs in bfloat16 (exp would overflow)
    half = encoder.to(torch.bfloat16)(windows)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), features, rtol=0.05, atol=0.1)


def test_whisper_inputs_approximate_the_feature_extractor() -> None:
    """Measured: |bias| ≤ 0.03 and correlation ≥ 0.94 on tones and sweeps; mean |diff|
    0.07–0.09 (≈ 3 dB) everywhere, which includes noise's periodogram scatter."""
    extractor = tf.WhisperFeatureExtractor(feature_size=80)
    inputs = WhisperInput(torch.as_tensor(extractor.mel_filters), 3000)
    for name, sig in signals().items():
        wave = sig.astype(np.float32)
        ours = inputs(preprocess(wave)[:1])[0, :, :508]
        ref = extractor(wave, sampling_rate=RATE, return_tensors="pt").input_features[0, :, 1:509]
        diff = ours - ref  # our frame i is centred 1.25 Whisper frames later
        assert abs(float(diff.mean())) < 0.05, name
        assert float(diff.abs().mean()) < 0.12, name
        if name != "noise":  # white noise has no structure to correlate
            assert np.corrcoef(ours.flatten(), ref.flatten())[0, 1] > 0.85, name
    padded = inputs(preprocess(signals()["chord"][: RATE].astype(np.float32))[:1])[0]
    assert torch.allclose(padded[:, 98:], padded[:, -1:].expand(-1, 3000 - 98))  # clamp floor


@pytest.mark.parametrize("fusion", [False, True])
def test_clap_inputs_approximate_the_feature_extractor(fusion: bool) -> None:
    """Measured below 7 kHz: |bias| ≤ 0.8 dB, mean |diff| ≈ 3 dB, correlation ≥ 0.95."""
    extractor = tf.ClapFeatureExtractor()
    inputs = ClapInput(extractor, fusion)
    filters = extractor.mel_filters if fusion else extractor.mel_filters_slaney
    below_7k = torch.as_tensor(filters).argmax(0) * 48_000 / 1024 < 7_000
    for name, sig in signals().items():
        wave = sig.astype(np.float32)
        ours = inputs(preprocess(wave)[:1])
        assert ours.shape == (1, 4 if fusion else 1, 1001, 64)
        wave48 = resample_poly(wave, 3, 1).astype(np.float32)
        ref = extractor(wave48, sampling_rate=48_000, return_tensors="pt",
                        truncation="fusion" if fusion else "rand_trunc").input_features
        ours, ref = ours[0, 0, :508][:, below_7k], ref[0, 0, 1:509][:, below_7k]
        diff = ours - ref
        assert abs(float(diff.mean())) < 1.5, name
        assert float(diff.abs().mean()) < 4.5, name
        if name != "noise":
            assert np.corrcoef(ours.flatten(), ref.flatten())[0, 1] > 0.85, name


def test_clap_audio_tower_and_full_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    windows = preprocess(signals()["chirp"].astype(np.float32))
    full = tf.ClapModel(tf.ClapConfig(
        text_config=dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40),
        audio_config=CLAP_AUDIO, projection_dim=8))
    tower = tf.ClapAudioModel(tf.ClapAudioConfig(**CLAP_AUDIO, enable_fusion=True))
    for name, model in (("clap", full), ("clap_audio_fused", tower)):
        encoder = build_encoder(saved(model, tmp_path / name))
        assert encoder.feature_dim == 32
        features = encoder(windows)
        assert features.shape == (2, 8 * 128, 32), name  # HTSAT map [C, 8, 128] as tokens
        assert torch.isfinite(features).all()


def test_unsupported_sources(tmp_path: Path) -> None:
    bert = tf.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32)
    path = saved(tf.BertModel(bert), tmp_path / "bert")
    with pytest.raises(UnknownNameError, match="transformers audio model type 'bert'"):
        build_encoder(path)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        build_encoder(str(tmp_path / "empty_dir"))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="not an audio encoder checkpoint"):
        build_encoder(str(tmp_path / "weights.bin"))
