"""Our Q-Former path equals transformers' InstructBLIP on a tiny random model.

transformers' InstructBLIP: vision tower (ends in ``post_layernorm``) -> Q-Former over
[queries ‖ instruction] with cross-attention to the image embeddings -> ``language_projection``
of the query outputs, scattered into the LLM input at the image-token positions.

xalign: frozen encoder features *before* ``post_layernorm`` -> ``QFormerProjector``
(whose ``ln`` is that ``post_layernorm``) -> [projected tokens ‖ embedded text] -> same LLM
(cue prefix off: exactly the query tokens, then the text embeddings).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import (
    InstructBlipConfig,
    InstructBlipForConditionalGeneration,
    InstructBlipQFormerConfig,
    InstructBlipVisionConfig,
    LlamaConfig,
)

from xalign.encoders.frozen import FrozenEncoder, freeze
from xalign.projectors import ProjectorConfig, build_projector, init_qformer_from

K, QVOCAB, VOCAB, IMAGE_TOKEN = 32, 90, 120, 119
ATOL = 1e-5  # float32


def tiny_instructblip() -> InstructBlipForConditionalGeneration:
    torch.manual_seed(0)
    vision = InstructBlipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        image_size=28, patch_size=14, layer_norm_eps=1e-5)  # LAVIS ln eps (torch default)
    # The "tiny" preset's geometry, written out independently of xalign's preset table.
    qformer = InstructBlipQFormerConfig(
        vocab_size=QVOCAB, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=512, cross_attention_frequency=1, max_position_embeddings=512,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    text = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
                       pad_token_id=0)
    config = InstructBlipConfig(vision_config=vision, qformer_config=qformer, text_config=text,
                                num_query_tokens=K, image_token_index=IMAGE_TOKEN)
    model = InstructBlipForConditionalGeneration(config).eval()
    with torch.no_grad():  # random everything (HF zero-inits queries, biases, LN shifts)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


class PreLayerNormVision(nn.Module):
    """The vision tower up to (not including) ``post_layernorm``: xalign's encoder features."""

    def __init__(self, vision_model: nn.Module) -> None:
        super().__init__()
        self.vision_model = vision_model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        embeds = self.vision_model.embeddings(pixels)
        return self.vision_model.encoder(inputs_embeds=embeds).last_hidden_state


def tiny_projector():
    config = ProjectorConfig(kind="qformer", modality="image", feature_dim=32, llm_dim=64,
                             num_tokens=K, preset="tiny", instruction_vocab_size=QVOCAB)
    return build_projector(config)


@pytest.fixture(scope="module")
def setup():
    model = tiny_instructblip()
    g = torch.Generator().manual_seed(1)
    pixels = torch.randn(2, 3, 28, 28, generator=g)
    qids = torch.randint(1, QVOCAB, (2, 6), generator=g)
    qmask = torch.ones_like(qids)
    qmask[1, 4:] = 0  # right padding, as a BERT tokenizer pads
    text = torch.randint(3, IMAGE_TOKEN, (2, 7), generator=g)
    return model, pixels, qids, qmask, text


def hf_logits(model, pixels, qids, qmask, text) -> torch.Tensor:
    input_ids = torch.cat([torch.full((text.shape[0], K), IMAGE_TOKEN), text], dim=1)
    with torch.no_grad():
        out = model(pixel_values=pixels, qformer_input_ids=qids, qformer_attention_mask=qmask,
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
    return out.logits


def xalign_logits(model, projector, features, qids, qmask, text) -> torch.Tensor:
    tokens = projector(features, qids, qmask)
    embeds = torch.cat([tokens, model.get_input_embeddings()(text)], dim=1)
    mask = torch.ones(embeds.shape[:2], dtype=torch.long)
    return model.language_model(inputs_embeds=embeds, attention_mask=mask).logits


def test_features_are_the_input_of_post_layernorm(setup):
    model, pixels, *_ = setup
    with torch.no_grad():
        pre = PreLayerNormVision(model.vision_model)(pixels)
        full = model.vision_model(pixel_values=pixels).last_hidden_state
    torch.testing.assert_close(model.vision_model.post_layernorm(pre), full, rtol=0, atol=0)


def test_logits_match_transformers_instructblip(setup):
    model, pixels, qids, qmask, text = setup
    projector = tiny_projector().eval()
    report = init_qformer_from(projector, model.state_dict(), skip_cross_attention=False)
    assert report.fresh == [] and report.skipped == []
    assert len(report.copied) == len(projector.state_dict())
    with torch.no_grad():
        features = PreLayerNormVision(model.vision_model)(pixels)
        ours = xalign_logits(model, projector, features, qids, qmask, text)
        image_tokens = model.get_image_features(
            pixels, qformer_input_ids=qids, qformer_attention_mask=qmask).pooler_output
        torch.testing.assert_close(projector(features, qids, qmask), image_tokens,
                                   rtol=0, atol=ATOL)
    reference = hf_logits(model, pixels, qids, qmask, text)
    assert ours.shape == reference.shape == (2, K + 7, VOCAB)
    assert (ours - reference).abs().max().item() < ATOL


def test_fresh_cross_attention_breaks_parity(setup):
    """Negative control: the BLIP-2 default (cross-attention left fresh) must change the logits."""
    model, pixels, qids, qmask, text = setup
    projector = tiny_projector().eval()
    report = init_qformer_from(projector, model.state_dict())
    assert report.skipped and all("cross-attention" in why for _, why in report.skipped)
    with torch.no_grad():
        features = PreLayerNormVision(model.vision_model)(pixels)
        ours = xalign_logits(model, projector, features, qids, qmask, text)
    assert (ours - hf_logits(model, pixels, qids, qmask, text)).abs().max().item() > 1e-3


def test_adamw_step_changes_only_the_projector(setup):
    model, pixels, qids, qmask, text = setup
    encoder = FrozenEncoder(PreLayerNormVision(model.vision_model), 32, "tiny-instructblip")
    llm = freeze(model.language_model)
    projector = tiny_projector().train()
    init_qformer_from(projector, model.state_dict(), skip_cross_attention=False)
    bundle = nn.ModuleDict({"encoder": encoder, "llm": llm, "projector": projector})
    trainable = [p for p in bundle.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in projector.parameters()}
    frozen_before = {f"{n}.{k}": v.clone() for n in ("encoder", "llm")
                     for k, v in bundle[n].state_dict().items()}
    projector_before = {k: v.clone() for k, v in projector.state_dict().items()}

    optimizer = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05)
    tokens = projector(encoder(pixels), qids, qmask)
    embeds = torch.cat([tokens, llm.get_input_embeddings()(text)], dim=1)
    labels = torch.cat([torch.full((2, K), -100), text], dim=1)  # loss on the text only
    loss = llm(inputs_embeds=embeds, labels=labels).loss
    loss.backward()
    assert all(p.grad is None for p in llm.parameters())
    optimizer.step()

    for key, before in frozen_before.items():
        name, sub = key.split(".", 1)
        assert torch.equal(bundle[name].state_dict()[sub], before), key
    after = projector.state_dict()
    changed = [k for k in projector_before if not torch.equal(after[k], projector_before[k])]
    assert len(changed) == len(projector_before), sorted(set(projector_before) - set(changed))
