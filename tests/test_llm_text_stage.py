"""The LLM's text-only comparison stage: LoRA that merges exactly, adapters that reproduce,
and projectors that refuse an LLM state other than the one they were trained on."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.fixtures_llm import make_tiny_llm
from xalign.errors import CheckpointError, XalignError
from xalign.llm import text_stage as ts
from xalign.model import XAlignModel
from xalign.projectors import ProjectorConfig, build_projector

SMALL = ts.StageConfig(steps=3, batch_size=2, pairs_per_modality_pair=2, singles=4,
                       modalities=("3d", "image"),
                       top_layers=1, lr=1e-2)


def _logits(loaded, ids):
    with torch.no_grad():
        return loaded.model(input_ids=ids).logits


def test_merged_adapters_compute_what_the_adapters_did():
    loaded = make_tiny_llm(seed=1)
    wrapped = ts.add_lora(loaded.model, SMALL)
    assert wrapped and all(".layers.1." in name for name in wrapped)  # top layer only
    for lora in wrapped.values():
        torch.nn.init.normal_(lora.lora_b, std=0.05)
    ids = torch.randint(0, 500, (2, 9))
    before = _logits(loaded, ids)
    ts.merge_lora(loaded.model, wrapped)
    assert not any(isinstance(m, ts.LoRALinear) for m in loaded.model.modules())
    torch.testing.assert_close(_logits(loaded, ids), before, rtol=1e-4, atol=1e-5)


def test_stage_trains_saves_and_the_file_rebuilds_the_same_llm(tmp_path):
    trained = make_tiny_llm(seed=2)
    path = ts.train_stage(trained, SMALL, tmp_path / "a.safetensors", log=lambda _: None)
    assert trained.llm_id == ts.state_id("tiny-llama-64", path) != "tiny-llama-64"
    assert not any(p.requires_grad for p in trained.model.parameters())  # frozen again

    rebuilt = ts.apply_adapters(make_tiny_llm(seed=2), path)
    ids = torch.randint(0, 500, (2, 7))
    torch.testing.assert_close(_logits(rebuilt, ids), _logits(trained, ids))
    assert rebuilt.llm_id == trained.llm_id
    untouched = make_tiny_llm(seed=2)
    assert not torch.allclose(_logits(untouched, ids), _logits(trained, ids))  # it did learn

    again = ts.train_stage(make_tiny_llm(seed=2), SMALL, tmp_path / "b.safetensors",
                           log=lambda _: None)
    assert again.read_bytes() == path.read_bytes()  # same command, same bytes


def test_adapters_refuse_another_base_llm(tmp_path):
    path = ts.train_stage(make_tiny_llm(seed=3), dataclasses.replace(SMALL, steps=1),
                          tmp_path / "a.safetensors", log=lambda _: None)
    other = make_tiny_llm(seed=3, hidden=32)
    with pytest.raises(XalignError, match="tiny-llama-64"):
        ts.apply_adapters(other, path)
    with pytest.raises(CheckpointError, match="not found"):
        ts.apply_adapters(make_tiny_llm(seed=3), tmp_path / "missing.safetensors")


def test_projectors_of_another_llm_state_are_refused():
    loaded = make_tiny_llm(seed=4)
    loaded.llm_id = "tiny-llama-64+compare-aaaaaaaaaaaa"
    config = ProjectorConfig(kind="linear", modality="image", feature_dim=8, llm_dim=64,
                             num_tokens=2, llm_id="tiny-llama-64+compare-bbbbbbbbbbbb")
    with pytest.raises(CheckpointError, match="LLM state"):
        XAlignModel(loaded, {"image": build_projector(config)})
    plain = dataclasses.replace(config, llm_id="tiny-llama-64")  # trained before the stage
    with pytest.raises(CheckpointError, match="LLM state"):
        XAlignModel(loaded, {"image": build_projector(plain)})
    same = dataclasses.replace(config, llm_id=loaded.llm_id)
    XAlignModel(loaded, {"image": build_projector(same)})
    with pytest.raises(XalignError, match="retrain"):
        ts.check_state("smollm2+compare-aaaaaaaaaaaa", "smollm2+compare-bbbbbbbbbbbb")


def test_neither_layout_gives_the_answer_away():
    """Balanced records alternate their answer; the two layouts must not alternate with them
    (they once did: the stage learnt "slots → first, inline → second", not comparing)."""
    from collections import Counter

    texts = ts.comparison_examples(seed=7, per_pair=8, modalities=("3d", "image", "video"))
    by_layout = Counter(("slots" if t.inputs else "inline", t.answer) for t in texts)
    for layout in ("slots", "inline"):
        assert by_layout[(layout, ts.ANSWERS[0])] == by_layout[(layout, ts.ANSWERS[1])] > 0


def test_measure_scores_by_layout_and_kind_with_the_discrn_matcher(monkeypatch):
    """An LLM that always says "The first one." is right on the balanced half, in each kind."""
    monkeypatch.setattr(ts, "answers", lambda loaded, texts: [ts.ANSWERS[0]] * len(texts))
    out = ts.measure(None, per_pair=4, modalities=("image", "video"))
    assert out["comparison_slots"] == out["comparison_inline"] == 0.5
    assert out["comparison_slots_attribute"] == out["comparison_slots_exclusive"] == 0.5
