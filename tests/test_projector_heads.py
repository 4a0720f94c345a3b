"""Heads that read the LLM's embedding table (vocab: mixtures of its words; normed: its word
norm), bound by the model, never saved."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_llm import make_tiny_llm
from xalign.errors import XalignError
from xalign.model import XAlignModel
from xalign.projectors import ProjectorConfig, build_projector, load_projector
from xalign.projectors.heads import NormedHead, VocabHead


def test_tokens_are_convex_mixtures_of_the_table_and_sharpen_to_its_rows():
    torch.manual_seed(0)
    head = VocabHead(hidden=8, llm_dim=6)
    table = torch.randn(50, 6)
    head.bind(table)
    tokens = head(torch.randn(3, 4, 8))
    weights = head.weights(torch.randn(3, 4, 8))
    assert tokens.shape == (3, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    with torch.no_grad():
        head.log_scale.fill_(8.0)  # a sharp softmax picks one word per token
    sharp = head(torch.randn(2, 5, 8))
    distance = torch.cdist(sharp.reshape(-1, 6), table).min(dim=1).values
    assert distance.max() < 1e-3


def test_unbound_or_mismatched_tables_are_errors():
    head = VocabHead(hidden=8, llm_dim=6)
    with pytest.raises(XalignError, match="bind"):
        head(torch.randn(1, 2, 8))
    with pytest.raises(XalignError, match="another LLM"):
        head.bind(torch.randn(50, 7))


def test_normed_tokens_have_the_median_word_norm_whatever_the_input_scale():
    torch.manual_seed(0)
    head = NormedHead(hidden=8, llm_dim=6)
    table = torch.randn(50, 6) * torch.linspace(0.5, 3.0, 50)[:, None]
    with pytest.raises(XalignError, match="bind"):
        head(torch.randn(1, 2, 8))
    head.bind(table)
    for scale in (1e-3, 1.0, 1e3):
        tokens = head(torch.randn(3, 4, 8) * scale)
        torch.testing.assert_close(tokens.norm(dim=-1),
                                   torch.full((3, 4), float(table.norm(dim=-1).median())))
    with pytest.raises(XalignError, match="another LLM"):
        head.bind(torch.randn(50, 7))


@pytest.mark.parametrize(("kind", "head_kind"), [("qformer", "vocab"), ("linear", "vocab"),
                                                  ("qformer", "normed")])
def test_the_model_binds_the_llm_table_and_saving_leaves_it_out(kind, head_kind, tmp_path):
    loaded = make_tiny_llm(seed=5)
    config = ProjectorConfig(kind=kind, modality="image", feature_dim=8, llm_dim=64,
                             num_tokens=2, head=head_kind, llm_id=loaded.llm_id,
                             instruction_vocab_size=len(loaded.tokenizer))
    projector = build_projector(config)
    model = XAlignModel(loaded, {"image": projector})
    head = next(m for m in model.modules() if isinstance(m, (VocabHead, NormedHead)))
    if head_kind == "vocab":
        assert head.table.data_ptr() == loaded.embeddings.weight.data_ptr()
    else:
        assert float(head.norm) == pytest.approx(
            float(loaded.embeddings.weight.norm(dim=-1).median()))
    tokens = projector(torch.randn(3, 4, 8))
    assert tokens.shape == (3, 2, 64)
    directory = projector.save_pretrained(tmp_path / "p")
    from safetensors import safe_open

    with safe_open(str(directory / "model.safetensors"), "pt") as handle:
        saved = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    assert not any(k.endswith("table") for k in saved), saved  # the LLM's table stays out
    assert tuple(loaded.embeddings.weight.shape) not in saved.values()
    again = load_projector(directory, llm_dim=64, llm_id=loaded.llm_id)
    XAlignModel(loaded, {"image": again})
    torch.testing.assert_close(again(torch.ones(1, 4, 8)), projector(torch.ones(1, 4, 8)))
