"""Projector directories: save/load round trip and every way loading can go wrong."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file

from xalign.errors import CheckpointError
from xalign.projectors import ProjectorConfig, build_projector, load_projector


def make(kind: str, **overrides):
    base = dict(kind=kind, modality="image", feature_dim=24, llm_dim=32, num_tokens=4,
                instruction_vocab_size=50, llm_id="tiny-llm", encoder_id="tiny-enc")
    torch.manual_seed(0)
    return build_projector(ProjectorConfig(**{**base, **overrides}))


@pytest.mark.parametrize("kind,extra", [("qformer", {}), ("linear", {}),
                                        ("linear", {"match_params_of": "qformer"}),
                                        ("mlp", {"hidden_dim": 20})])
def test_round_trip_gives_the_same_outputs(tmp_path, kind, extra):
    projector = make(kind, **extra).eval()
    directory = projector.save_pretrained(tmp_path / "proj")
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_projector(directory, llm_dim=32, feature_dim=24)
    assert type(loaded) is type(projector) and loaded.config == projector.config
    assert not loaded.training
    features, ids = torch.randn(2, 7, 24), torch.randint(0, 50, (2, 3))
    torch.testing.assert_close(loaded(features, ids), projector(features, ids), rtol=0, atol=0)


def test_saving_again_overwrites_atomically(tmp_path):
    first, second = make("mlp"), make("mlp", hidden_dim=8)
    first.save_pretrained(tmp_path)
    second.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    assert load_projector(tmp_path).config.hidden_dim == 8


def test_wrong_llm_width_says_what_the_projector_was_made_for(tmp_path):
    make("qformer").save_pretrained(tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_projector(tmp_path, llm_dim=576, llm_id="smollm2")
    message = str(err.value)
    assert f"projector {tmp_path} was made for an LLM of width 32 (llm_id tiny-llm)" in message
    assert "this LLM (smollm2) has width 576" in message


def test_wrong_encoder_width_is_reported_likewise(tmp_path):
    make("linear").save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="made for an encoder of width 24 "
                                              r"\(encoder_id tiny-enc\), this encoder has width 8"):
        load_projector(tmp_path, feature_dim=8)


def test_truncated_safetensors_names_the_file(tmp_path):
    make("qformer").save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: corrupt or truncated") as err:
        load_projector(tmp_path)
    assert str(weights) in str(err.value)


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors"])
def test_missing_files_are_named(tmp_path, missing):
    make("mlp").save_pretrained(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(CheckpointError, match=missing.replace(".", r"\.") + ": missing"):
        load_projector(tmp_path)


def test_missing_directory_and_bad_config(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_projector(tmp_path / "nope")
    make("mlp").save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not a readable JSON"):
        load_projector(tmp_path)
    data = make("mlp").config.to_dict() | {"colour": "red"}
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="unknown projector config key 'colour'"):
        load_projector(tmp_path)
    resampler = make("mlp").config.to_dict() | {"kind": "perceiver"}
    (tmp_path / "config.json").write_text(json.dumps(resampler))
    with pytest.raises(CheckpointError, match="unknown projector 'perceiver'"):
        load_projector(tmp_path)


def test_missing_unexpected_and_misshaped_tensors_are_named(tmp_path):
    make("qformer").save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))

    save_file({k: v for k, v in state.items() if k != "query_tokens"}, str(weights))
    with pytest.raises(CheckpointError, match="missing tensors: query_tokens"):
        load_projector(tmp_path)

    save_file(state | {"extra.weight": torch.zeros(1)}, str(weights))
    with pytest.raises(CheckpointError, match=r"unexpected tensors: extra\.weight"):
        load_projector(tmp_path)

    save_file(state | {"llm_proj.bias": torch.zeros(31)}, str(weights))
    with pytest.raises(CheckpointError, match=r"tensor llm_proj\.bias has shape \(31,\), "
                                              r"expected \(32,\)"):
        load_projector(tmp_path)


def test_a_projector_refuses_other_weights_under_its_encoder_id(caplog):
    """A plugin release that ships new encoder weights under the same id: the projectors
    trained on the old features must not load silently (same width, other features)."""
    from types import SimpleNamespace

    from xalign.pipeline import build_encoders
    from xalign.registry import get_registry

    installed = get_registry().build_encoder("3d").weights_digest
    assert len(installed) == 12
    config = ProjectorConfig(kind="linear", modality="3d", feature_dim=256, llm_dim=8,
                             encoder_id="tiny", encoder_weights="0" * 12)
    with pytest.raises(CheckpointError, match=f"weights {'0' * 12}.*{installed}.*retrain"):
        build_encoders({"3d": SimpleNamespace(config=config)})
    same = replace(config, encoder_weights=installed)
    assert build_encoders({"3d": SimpleNamespace(config=same)})["3d"].weights_digest == installed
    # projectors saved before the digest was recorded still load, with a warning
    with caplog.at_level("WARNING", logger="xalign.pipeline"):
        assert build_encoders({"3d": SimpleNamespace(config=replace(config, encoder_weights=""))})
    assert "records no encoder weights" in caplog.text
