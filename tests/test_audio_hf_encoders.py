"""transformers audio encoders (AST, Whisper, CLAP) behind registered encoder ids, each fed its
own feature extractor's output (tests/test_encoder_parity.py checks those inputs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign.registry import get_registry

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


def chord(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)).astype(np.float32)


def encode(ref: str) -> tuple[FrozenEncoder, torch.Tensor]:
    """The encoder ``ref`` names and its features of a 3 s chord (preprocess → network)."""
    encoder = get_registry().build_encoder("audio", ref)
    return encoder, encoder(encoder.spec.preprocess(chord(), False))


def test_ast(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = tf.ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64)  # max_length 1024, 128 bins: the extractor's
    encoder, features = encode(f"ast@{saved(tf.ASTModel(config), tmp_path / 'ast')}")
    assert encoder.feature_dim == 32 and encoder.spec.family == "ast"
    assert features.shape == (1, 1214, 32) and torch.isfinite(features).all()


def test_whisper(tmp_path: Path) -> None:
    config = tf.WhisperConfig(
        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
        max_source_positions=1500, max_target_positions=16, vocab_size=64, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    torch.manual_seed(0)
    encoder, features = encode(f"whisper@{saved(tf.WhisperModel(config), tmp_path / 'w')}")
    assert features.shape == (1, 1500, 32) and torch.isfinite(features).all()
    half = encoder.to(torch.bfloat16)(encoder.spec.preprocess(chord(), False))
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), features, rtol=0.05, atol=0.1)


def test_clap_audio_tower_and_full_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    full = tf.ClapModel(tf.ClapConfig(
        text_config=dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40),
        audio_config=CLAP_AUDIO, projection_dim=8))
    tower = tf.ClapAudioModel(tf.ClapAudioConfig(**CLAP_AUDIO, enable_fusion=False))
    for name, model in (("clap", full), ("clap_audio", tower)):
        encoder, features = encode(f"clap@{saved(model, tmp_path / name)}")
        assert encoder.feature_dim == 32
        assert features.shape == (1, 8 * 128, 32), name  # HTSAT map [C, 8, 128] as tokens
        assert torch.isfinite(features).all()


def test_wrong_model_type_and_missing_sources(tmp_path: Path) -> None:
    bert = tf.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32)
    path = saved(tf.BertModel(bert), tmp_path / "bert")
    with pytest.raises(UnknownNameError, match="ast model type 'bert'"):
        get_registry().build_encoder("audio", f"ast@{path}")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CheckpointError, match="cannot read a transformers config"):
        get_registry().build_encoder("audio", f"whisper@{tmp_path / 'empty_dir'}")
    with pytest.raises(UnknownNameError,
                       match=r"unknown audio encoder '.*weights\.bin' choices: ast, beats, clap"):
        get_registry().build_encoder("audio", str(tmp_path / "weights.bin"))
