"""Image encoders: the seeded tiny one, and transformers vision towers from tiny checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers as T
from safetensors.torch import load_file
from xalign_plugin_image.encoders.hf import build_hf_encoder, build_tower
from xalign_plugin_image.encoders.tiny import build_tiny_backbone, build_tiny_encoder

from xalign.encoders import FrozenEncoder
from xalign.encoders.tiny import salient_pool
from xalign.errors import CheckpointError, UnknownNameError

VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              image_size=32, patch_size=8)
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
            vocab_size=100, max_position_embeddings=64)
QFORMER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
               vocab_size=100, encoder_hidden_size=32, max_position_embeddings=64)
LLM = dict(model_type="opt", hidden_size=32, ffn_dim=64, num_hidden_layers=1,
           num_attention_heads=4, vocab_size=100, word_embed_proj_dim=32,
           max_position_embeddings=64)


def _checkpoints() -> dict[str, tuple[T.PretrainedConfig, type, int]]:
    """name -> (config, model class, tokens per image at 32 px / 8 px patches)"""
    return {
        "clip_vision": (T.CLIPVisionConfig(**VISION), T.CLIPVisionModel, 17),
        "siglip_vision": (T.SiglipVisionConfig(**VISION), T.SiglipVisionModel, 16),
        "instructblip_vision": (T.InstructBlipVisionConfig(**VISION), T.InstructBlipVisionModel,
                                17),
        "blip2_vision": (T.Blip2VisionConfig(**VISION), T.Blip2VisionModel, 17),
        "clip": (T.CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=16),
                 T.CLIPModel, 17),
        "siglip": (T.SiglipConfig(text_config=TEXT, vision_config=VISION), T.SiglipModel, 16),
        "instructblip": (T.InstructBlipConfig(vision_config=VISION, qformer_config=QFORMER,
                                              text_config=LLM, num_query_tokens=4),
                         T.InstructBlipForConditionalGeneration, 17),
        "blip2": (T.Blip2Config(vision_config=VISION, qformer_config=QFORMER, text_config=LLM,
                                num_query_tokens=4), T.Blip2ForConditionalGeneration, 17),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    root = tmp_path_factory.mktemp("vision")
    out = {}
    for name, (config, cls, tokens) in _checkpoints().items():
        torch.manual_seed(0)
        cls(config).save_pretrained(root / name)
        out[name] = (root / name, tokens)
    return out


def _images(n: int = 2, size: int = 224) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


# -- tiny ----------------------------------------------------------------------------------
def test_tiny_is_seeded_frozen_and_small() -> None:
    encoder = build_tiny_encoder()
    again = build_tiny_encoder()
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == 256
    for (name, a), b in zip(encoder.state_dict().items(), again.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.backbone.training
    # small enough for CPU (timing is not asserted: the test machines are shared)
    assert sum(p.numel() for p in encoder.parameters()) < 2_000_000
    out = encoder(_images(1))
    assert out.shape == (1, 1, 256) and torch.isfinite(out).all()


def test_tiny_tokens_depend_on_their_patch() -> None:
    backbone = build_tiny_backbone(pool=False).eval()  # the 196 tokens the encoder pools
    x = _images(1)
    y = x.clone()
    y[..., :16, :16] += 1.0  # change the top-left patch only
    with torch.no_grad():
        diff = (backbone(x) - backbone(y)).abs().mean(-1)[0]
    assert diff.shape == (196,)
    assert diff[0] > 5 * diff[1:].mean()  # attention mixes, but the patch's own token moves most


def test_tiny_encoder_returns_the_salient_pool_of_the_patch_tokens() -> None:
    x = _images(2)
    with torch.no_grad():
        tokens = build_tiny_backbone(pool=False).eval()(x)
        pooled = build_tiny_encoder()(x)
    torch.testing.assert_close(pooled, salient_pool(tokens))


# -- transformers towers -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(_checkpoints()))
def test_hf_towers_load_by_path(saved: dict, name: str) -> None:
    path, tokens = saved[name]
    encoder = build_hf_encoder(str(path))
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == 32
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.backbone.model.training
    out = encoder(_images(size=32))
    assert out.shape == (2, tokens, 32) and torch.isfinite(out).all()
    # the tower carries the checkpoint's weights, not a fresh random init
    weights = load_file(path / "model.safetensors")
    key = next(k for k in weights if k.endswith("embeddings.patch_embedding.weight"))
    torch.testing.assert_close(
        encoder.backbone.model.embeddings.patch_embedding.weight, weights[key].float())


def test_hf_output_is_last_hidden_state_of_the_processor_output(saved: dict) -> None:
    """The tower reads its own processor's pixels as they are (no re-normalising, no resize)."""
    path, _ = saved["siglip_vision"]
    encoder = build_hf_encoder(str(path))
    reference = T.SiglipVisionModel.from_pretrained(path).eval()
    x = _images(size=32)
    with torch.no_grad():
        expected = reference(pixel_values=x).last_hidden_state
    torch.testing.assert_close(encoder(x), expected, atol=1e-5, rtol=1e-5)


def test_a_tower_of_another_input_size_is_refused(saved: dict) -> None:
    with pytest.raises(CheckpointError, match="a 32-px tower; encoder 'siglip-base' feeds 224-px"):
        build_tower("siglip-base", str(saved["siglip_vision"][0]))


def test_sharded_full_checkpoint_reads_vision_shards(tmp_path: Path) -> None:
    config, cls, _ = _checkpoints()["instructblip"]
    torch.manual_seed(1)
    model = cls(config)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 2
    encoder = build_hf_encoder(str(tmp_path / "sharded"))
    torch.testing.assert_close(encoder.backbone.model.post_layernorm.weight,
                               model.vision_model.post_layernorm.weight)


def test_full_checkpoint_without_tower_weights_is_refused(saved: dict, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source, _ = saved["instructblip"]
    broken = tmp_path / "no-vision"
    broken.mkdir()
    (broken / "config.json").write_text((source / "config.json").read_text())
    weights = load_file(source / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "post_layernorm" not in k},
              broken / "model.safetensors")
    with pytest.raises(CheckpointError, match="post_layernorm"):
        build_hf_encoder(str(broken))


def test_unknown_model_type_lists_choices_and_runs_no_remote_code(tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "config.json").write_text(json.dumps(
        {"model_type": "my_vit", "auto_map": {"AutoModel": "modeling_evil.Evil"}}))
    (custom / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(UnknownNameError, match="clip_vision_model"):
        build_hf_encoder(str(custom))


def test_missing_sources_are_checkpoint_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        build_hf_encoder(str(empty))
    # not a directory here and the hub is offline in tests: a clear error, no hang
    with pytest.raises(CheckpointError):
        build_hf_encoder("no-such-org/no-such-vision-model")
