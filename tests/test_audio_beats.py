"""BEATs: our implementation, the official checkpoint layout, and loading failures by key."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from xalign_plugin_audio.encoders.beats_checkpoint import (
    POS_CONV_G,
    load_beats,
    official_state_dict,
    save_beats,
)
from xalign_plugin_audio.encoders.beats_model import BEATs, BEATsConfig, relative_buckets

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign.registry import get_registry

# BEATs iter3+ architecture flags at toy size
TINY = dict(input_patch_size=16, embed_dim=32, encoder_layers=2, encoder_embed_dim=48,
            encoder_ffn_embed_dim=96, encoder_attention_heads=4, conv_pos=16, conv_pos_groups=4,
            relative_position_embedding=True, num_buckets=64, max_distance=200,
            gru_rel_pos=True, deep_norm=True, layer_norm_first=False)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Keep these small models off a shared machine's thread pool; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_beats(seed: int = 0, **overrides: object) -> BEATs:
    torch.manual_seed(seed)
    model = BEATs(BEATsConfig.from_dict({**TINY, **overrides})).eval()
    with torch.no_grad():  # move gates and norms away from their identity initialisation
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def official_file(tmp_path: Path, state: dict, cfg: dict | None = None) -> Path:
    path = tmp_path / "BEATs_tiny.pt"
    torch.save({"cfg": cfg or {**TINY, "dropout": 0.1, "encoder_layerdrop": 0.05},
                "model": state}, path)
    return path


def test_official_key_layout_and_build_encoder(tmp_path: Path) -> None:
    model = tiny_beats()
    state = official_state_dict(model)
    for key in ("patch_embedding.weight", "layer_norm.weight", "post_extract_proj.weight",
                "encoder.pos_conv.0.weight_g", "encoder.pos_conv.0.weight_v",
                "encoder.pos_conv.0.bias", "encoder.layer_norm.bias",
                "encoder.layers.1.self_attn.q_proj.weight", "encoder.layers.1.self_attn.grep_a",
                "encoder.layers.0.self_attn.grep_linear.weight",
                "encoder.layers.0.self_attn.relative_attention_bias.weight",
                "encoder.layers.1.fc2.bias", "encoder.layers.0.final_layer_norm.weight",
                "encoder.layers.1.self_attn_layer_norm.bias"):
        assert key in state, key
    assert state[POS_CONV_G].shape == (1, 1, 16)
    path = official_file(tmp_path, state)
    encoder = build_encoder(str(path))
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == 48
    assert not any(p.requires_grad for p in encoder.parameters())
    windows = torch.randn(3, 512, 128)
    features = encoder(windows)
    assert features.shape == (3, 256, 48)  # 32 time x 8 frequency patches
    torch.testing.assert_close(features, model(windows), rtol=1e-4, atol=1e-5)
    # a directory holding the one checkpoint works too
    assert build_encoder(str(tmp_path)).feature_dim == 48


@pytest.mark.parametrize("overrides", [
    dict(deep_norm=False, layer_norm_first=True, gru_rel_pos=False, conv_bias=True),
    dict(relative_position_embedding=False, gru_rel_pos=False, embed_dim=48),
])
def test_other_architecture_flags_round_trip(tmp_path: Path, overrides: dict) -> None:
    model = tiny_beats(1, **overrides)
    path = save_beats(model, tmp_path / "variant.pt")
    loaded = load_beats(path)
    windows = torch.randn(2, 512, 128)
    with torch.no_grad():
        torch.testing.assert_close(loaded(windows), model(windows), rtol=1e-4, atol=1e-5)


def test_batched_equals_one_by_one() -> None:
    model = tiny_beats()
    windows = torch.randn(3, 512, 128)
    with torch.no_grad():
        batched = model(windows)
        single = torch.cat([model(w[None]) for w in windows])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)


def test_missing_key_is_named(tmp_path: Path) -> None:
    state = official_state_dict(tiny_beats())
    del state["encoder.layers.1.self_attn.k_proj.weight"]
    key = r"missing key 'encoder\.layers\.1\.self_attn\.k_proj\.weight'"
    with pytest.raises(CheckpointError, match=key):
        build_encoder(str(official_file(tmp_path, state)))


def test_misshaped_key_is_named(tmp_path: Path) -> None:
    state = official_state_dict(tiny_beats())
    state["encoder.layers.0.fc1.weight"] = torch.zeros(95, 48)
    with pytest.raises(CheckpointError, match=r"'encoder\.layers\.0\.fc1\.weight' has shape "
                                              r"\(95, 48\), expected \(96, 48\)"):
        build_encoder(str(official_file(tmp_path, state)))


def test_unexpected_key_is_named_but_classifier_head_is_ignored(tmp_path: Path) -> None:
    state = official_state_dict(tiny_beats())
    state["predictor.weight"] = torch.zeros(527, 48)  # fine-tuned checkpoints carry this
    assert load_beats(official_file(tmp_path, state)) is not None
    state["encoder.layers.7.fc1.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected keys .*encoder\.layers\.7\.fc1"):
        load_beats(official_file(tmp_path, state))


def test_not_a_beats_checkpoint(tmp_path: Path) -> None:
    bare = tmp_path / "bare.pt"
    torch.save({"weights": torch.zeros(2)}, bare)
    with pytest.raises(CheckpointError, match="expected keys 'cfg' and 'model'"):
        build_encoder(str(bare))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        build_encoder(str(garbage))
    with pytest.raises(CheckpointError, match="not found"):
        build_encoder(str(tmp_path / "absent.pt"))


def test_unpicklable_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"cfg": TINY, "model": official_state_dict(tiny_beats()),
                "extra": types.SimpleNamespace(a=1)}, path)
    with pytest.raises(CheckpointError, match=r"not a readable torch checkpoint \(UnpicklingError"):
        load_beats(path)


def test_unknown_encoder_name_lists_choices() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'tiny'"):
        build_encoder("tiyn")


def test_relative_buckets() -> None:
    buckets = relative_buckets(6, num_buckets=320, max_distance=800)
    assert buckets[0, 0] == 0  # same position
    assert buckets[0, 1] == 161 and buckets[1, 0] == 1  # key after / before the query
    assert buckets[0, 5] == 165 and buckets[5, 0] == 5
    far = relative_buckets(1000, num_buckets=320, max_distance=800)
    assert far[0, 79] == 160 + 79 and far[0, 80] == 160 + 80  # 80 exact buckets per side
    assert far.max() <= 319 and far[0, 999] == 319 and far[999, 0] == 159
    assert (far[0, 80:].diff() >= 0).all()  # monotone in distance


REFERENCE = os.environ.get("XALIGN_BEATS_REFERENCE")  # a checkout of microsoft/unilm's beats/


@pytest.mark.skipif(not REFERENCE, reason="set XALIGN_BEATS_REFERENCE to unilm/beats to compare")
def test_matches_the_official_implementation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    # BEATs.py imports torchaudio for its fbank, which we never call: stub it out
    for name in ("torchaudio", "torchaudio.compliance", "torchaudio.compliance.kaldi"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.syspath_prepend(REFERENCE)
    official = pytest.importorskip("BEATs")
    torch.manual_seed(0)
    ref = official.BEATs(official.BEATsConfig({**TINY, "dropout": 0.0})).eval()
    ref.preprocess = lambda source, **_: source  # feed our fbank windows directly
    path = official_file(tmp_path, ref.state_dict())
    windows = torch.randn(2, 512, 128)
    with torch.no_grad():
        expected = ref.extract_features(windows)[0]
    torch.testing.assert_close(build_encoder(str(path))(windows), expected, rtol=1e-4, atol=1e-5)


def build_encoder(source: str) -> FrozenEncoder:
    """The audio encoder a recipe's ``encoder.source`` names (a BEATs path, or an id)."""
    return get_registry().build_encoder("audio", source)
