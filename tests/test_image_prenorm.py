"""EVA-CLIP-g towers hand the projector pre-``post_layernorm`` features (LAVIS ln_vision)."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as tf
from xalign_plugin_image.encoders.hf import build_hf_encoder


def test_instructblip_tower_returns_features_before_post_layernorm(tmp_path: Path) -> None:
    config = tf.InstructBlipVisionConfig(hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2,
                                         image_size=32, patch_size=8)
    model = tf.InstructBlipVisionModel(config).eval()
    model.save_pretrained(tmp_path)
    encoder = build_hf_encoder(str(tmp_path))
    images = torch.randn(1, 3, 32, 32)  # the tower's processor output
    features = encoder(images)
    reference = model(pixel_values=images).last_hidden_state
    assert not torch.allclose(features, reference)
    torch.testing.assert_close(model.post_layernorm(features), reference, atol=1e-5, rtol=1e-5)
