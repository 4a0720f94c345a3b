"""Projector configs, kinds, shapes, instruction handling and parameter counts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from xalign.errors import UnknownNameError, XalignError
from xalign.projectors import (
    LAVIS_BERT_VOCAB_SIZE,
    ProjectorConfig,
    build_projector,
    projector_kinds,
    qformer_parameter_count,
)


def config(kind: str = "qformer", **overrides) -> ProjectorConfig:
    base = dict(kind=kind, modality="audio", feature_dim=48, llm_dim=40, num_tokens=8,
                instruction_vocab_size=100)
    return ProjectorConfig(**{**base, **overrides})


def meta_count(cfg: ProjectorConfig) -> int:
    with torch.device("meta"):
        return build_projector(cfg).num_parameters()


def test_config_round_trips_through_a_dict():
    cfg = config(cue=" audio: ", frames=2, qformer_prompt="a short description")
    assert ProjectorConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_config_key_lists_the_valid_keys():
    data = config().to_dict() | {"num_token": 4}
    with pytest.raises(UnknownNameError) as err:
        ProjectorConfig.from_dict(data)
    assert "num_token" in str(err.value) and "did you mean 'num_tokens'" in str(err.value)


def test_unknown_kind_lists_choices_and_closest():
    with pytest.raises(UnknownNameError) as err:
        build_projector(config("qformr"))
    message = str(err.value)
    assert "did you mean 'qformer'" in message and "linear, mlp, qformer" in message
    assert projector_kinds() == ["linear", "mlp", "qformer", "resampler"]


def test_unknown_preset_and_bad_widths_are_clear():
    with pytest.raises(UnknownNameError, match=r"Q-Former preset 'papr'.*'paper'"):
        build_projector(config(preset="papr"))
    with pytest.raises(XalignError, match="llm_dim must be a positive int"):
        config(llm_dim=0)


def test_qformer_reading_llm_ids_needs_the_vocab_size():
    with pytest.raises(XalignError, match="instruction_vocab_size is required"):
        build_projector(config(instruction_vocab_size=None))
    bert = config(instruction_vocab_size=None, instruction_tokenizer="bert-base-uncased")
    qformer = build_projector(bert).qformer
    assert qformer.embeddings.word_embeddings.num_embeddings == LAVIS_BERT_VOCAB_SIZE


@pytest.mark.parametrize("kind,tokens", [("qformer", 8), ("linear", 8), ("mlp", 4)])
def test_every_kind_maps_features_to_k_llm_tokens(kind, tokens):
    torch.manual_seed(0)
    projector = build_projector(config(kind, num_tokens=tokens)).eval()
    features = torch.randn(3, 11, 48)
    ids, mask = torch.randint(0, 100, (3, 5)), torch.ones(3, 5, dtype=torch.long)
    out = projector(features, ids, mask)
    assert out.shape == (3, tokens, 40) and torch.isfinite(out).all()
    assert projector.uses_instruction is (kind == "qformer")
    # rows are independent: projecting one row alone gives the same tokens (batched = one-by-one)
    torch.testing.assert_close(projector(features[1:2], ids[1:2], mask[1:2]), out[1:2],
                               rtol=1e-5, atol=1e-6)


def test_wrong_feature_width_names_the_expected_shape():
    projector = build_projector(config("mlp"))
    with pytest.raises(ValueError, match=r"expects features \[N, T, 48\]"):
        projector(torch.randn(2, 5, 47))


def test_qformer_reads_the_instruction_and_ignores_padding():
    torch.manual_seed(0)
    projector = build_projector(config()).eval()
    features = torch.randn(1, 6, 48)
    ids = torch.tensor([[5, 6, 7]])
    base = projector(features, ids)
    other = projector(features, torch.tensor([[9, 10, 11]]))
    assert (base - other).abs().max() > 1e-4  # instruction-aware
    padded = projector(features, torch.tensor([[5, 6, 7, 0, 0]]),
                       torch.tensor([[1, 1, 1, 0, 0]]))
    torch.testing.assert_close(padded, base, rtol=1e-5, atol=1e-5)
    no_text = projector(features)  # queries only (qformer_text_input=False in LAVIS)
    assert no_text.shape == base.shape


def test_qformer_truncates_long_instructions_from_the_left():
    projector = build_projector(config()).eval()
    features = torch.randn(1, 4, 48)
    long_ids = torch.randint(0, 100, (1, 600))
    torch.testing.assert_close(projector(features, long_ids),
                               projector(features, long_ids[:, -512:]))
    with pytest.raises(ValueError, match=r"instruction ids must lie in \[0, 100\)"):
        projector(features, torch.tensor([[100]]))


def test_linear_and_mlp_ignore_the_instruction():
    torch.manual_seed(0)
    for kind in ("linear", "mlp"):
        projector = build_projector(config(kind)).eval()
        features = torch.randn(2, 5, 48)
        torch.testing.assert_close(projector(features, torch.ones(2, 3, dtype=torch.long)),
                                   projector(features))


def test_linear_is_one_linear_map_of_the_mean_pooled_features():
    torch.manual_seed(0)
    for hidden in (None, 6):
        projector = build_projector(config("linear", hidden_dim=hidden)).eval()
        a, b = torch.randn(2, 5, 48), torch.randn(2, 5, 48)
        normed = projector.ln(a)
        # permuting the T tokens does not matter (mean pooling) …
        torch.testing.assert_close(projector(a), projector(a.flip(1)), rtol=1e-5, atol=1e-6)
        # … and the map after the LayerNorm is affine: f(x+y) - f(y) = f(x) - f(0)
        torch.testing.assert_close(_linear_body(projector, normed), projector(a))
        nb, zero = projector.ln(b), torch.zeros_like(normed)
        torch.testing.assert_close(
            _linear_body(projector, normed + nb) - _linear_body(projector, nb),
            _linear_body(projector, normed) - _linear_body(projector, zero), rtol=1e-4, atol=1e-5)


def _linear_body(projector, normed: torch.Tensor) -> torch.Tensor:
    tokens = projector.proj(normed.mean(1)).view(normed.shape[0], projector.config.num_tokens, -1)
    return projector.llm_proj(tokens) if projector.llm_proj is not None else tokens


def test_mlp_pools_to_k_tokens_even_from_fewer_features():
    projector = build_projector(config("mlp", num_tokens=4, hidden_dim=16))
    assert projector.mlp[0].out_features == 16
    assert projector(torch.randn(2, 2, 48)).shape == (2, 4, 40)


@pytest.mark.parametrize("preset,d_enc,d_llm,vocab", [
    ("tiny", 64, 576, 49152),
    ("paper", 1408, 4096, LAVIS_BERT_VOCAB_SIZE),
])
def test_linear_matches_qformer_parameter_count(preset, d_enc, d_llm, vocab):
    cfg = config("linear", preset=preset, feature_dim=d_enc, llm_dim=d_llm, num_tokens=32,
                 instruction_vocab_size=vocab, match_params_of="qformer")
    target = qformer_parameter_count(cfg)
    assert target == meta_count(dataclasses.replace(cfg, kind="qformer", match_params_of=None))
    with torch.device("meta"):
        linear = build_projector(cfg)
    assert linear.config.hidden_dim is not None  # the resolved rank is what gets saved
    assert abs(linear.num_parameters() - target) / target < 0.01
    unmatched = meta_count(dataclasses.replace(cfg, match_params_of=None))
    assert unmatched != linear.num_parameters()


def test_paper_qformer_has_about_188m_parameters():
    """DESIGN §3: 188M trainable parameters per modality (BERT-base incl. word embeddings)."""
    cfg = config(preset="paper", feature_dim=1408, llm_dim=4096, num_tokens=32,
                 instruction_tokenizer="bert-base-uncased", instruction_vocab_size=None)
    count = meta_count(cfg)
    assert 186e6 < count < 190e6, count
