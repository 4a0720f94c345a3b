"""Warm starts: BLIP-2 Q-Former weights (cross-attention fresh) and video-from-image projectors."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from transformers import Blip2QFormerConfig, Blip2QFormerModel

from xalign.errors import CheckpointError, XalignError
from xalign.projectors import ProjectorConfig, build_projector, init_qformer_from
from xalign.projectors.qformer_keys import normalize_qformer_key

K, HIDDEN = 8, 128


def projector(kind: str = "qformer", modality: str = "video", feature_dim: int = 24):
    return build_projector(ProjectorConfig(kind=kind, modality=modality, feature_dim=feature_dim,
                                           llm_dim=32, num_tokens=K, instruction_vocab_size=60))


def blip2_state(feature_dim: int = 24) -> dict[str, torch.Tensor]:
    """A transformers Blip2ForConditionalGeneration-style state dict (Q-Former part + extras)."""
    torch.manual_seed(3)
    config = Blip2QFormerConfig(hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=512, cross_attention_frequency=1,
                                encoder_hidden_size=feature_dim)
    qformer = Blip2QFormerModel(config)
    state = {f"qformer.{k}": v.clone() + torch.randn_like(v) * 0.1
             for k, v in qformer.state_dict().items()}
    state["query_tokens"] = torch.randn(1, K, HIDDEN)
    state["vision_model.embeddings.class_embedding"] = torch.randn(1, 1, 16)  # not ours
    state["language_projection.weight"] = torch.randn(2560, HIDDEN)  # another LLM's width
    return state


def test_blip2_init_copies_everything_but_cross_attention():
    target = projector()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    source = blip2_state()
    report = init_qformer_from(target, source)
    after = target.state_dict()

    cross = sorted(k for k in after if ".crossattention." in k)
    assert cross and sorted(name for name, why in report.skipped
                            if why == "cross-attention left fresh") == cross
    for name in cross:  # left as initialised
        assert torch.equal(after[name], before[name]), name
    expected_copies = {normalize_qformer_key(k) for k in source} - {None, *cross}
    expected_copies -= {"llm_proj.weight"}  # 2560-wide LLM projection: shape mismatch
    assert set(report.copied) == expected_copies
    mapped = {normalize_qformer_key(k): v for k, v in source.items()}
    for name in report.copied:
        assert torch.equal(after[name], mapped[name]), name
    assert ("llm_proj.weight", f"shape (2560, {HIDDEN}) != (32, {HIDDEN})") in report.skipped
    # BLIP-2's Q-Former has no text path in transformers: instruction parts stay fresh
    assert "qformer.embeddings.word_embeddings.weight" in report.fresh
    assert "qformer.encoder.layer.0.intermediate.dense.weight" in report.fresh
    assert "qformer.embeddings.layernorm.weight" in report.copied  # from BLIP-2's `layernorm`
    assert report.ignored == 1  # the vision-tower tensor


def test_lavis_layout_is_understood_and_mismatched_vocab_skipped():
    target = projector()
    own = target.state_dict()
    lavis = {}
    for name, value in own.items():
        if not name.startswith("qformer."):
            continue
        key = "Qformer.bert." + name[len("qformer."):]
        key = key.replace(".attention.attention.", ".attention.self.")
        key = key.replace(".crossattention.attention.", ".crossattention.self.")
        key = key.replace("embeddings.layernorm.", "embeddings.LayerNorm.")
        lavis[key] = torch.randn_like(value)
    lavis["Qformer.bert.embeddings.word_embeddings.weight"] = torch.randn(30523, HIDDEN)
    lavis["Qformer.bert.embeddings.position_ids"] = torch.arange(512)[None]
    lavis["Qformer.cls.predictions.bias"] = torch.randn(30523)
    lavis["ln_vision.weight"] = torch.randn(24)
    report = init_qformer_from(target, lavis)
    assert ("qformer.embeddings.word_embeddings.weight",
            f"shape (30523, {HIDDEN}) != (60, {HIDDEN})") in report.skipped
    assert "qformer.encoder.layer.1.output.LayerNorm.bias" in report.copied
    assert "qformer.encoder.layer.0.attention.attention.query.weight" in report.copied
    assert "ln.weight" in report.copied and "query_tokens" in report.fresh
    assert report.ignored == 2  # position_ids buffer and the cls head


def test_video_from_image_projector_directory_copies_everything(tmp_path):
    torch.manual_seed(0)
    image = projector(modality="image")
    image.save_pretrained(tmp_path / "image")
    video = projector(modality="video")
    report = init_qformer_from(video, tmp_path / "image")
    assert report.fresh == [] and report.skipped == []
    assert len(report.copied) == len(video.state_dict())
    features, ids = torch.randn(2, 5, 24), torch.randint(0, 60, (2, 4))
    torch.testing.assert_close(video.eval()(features, ids), image.eval()(features, ids),
                               rtol=0, atol=0)


def test_weight_files_are_accepted(tmp_path):
    state = blip2_state()
    save_file(state, str(tmp_path / "blip2.safetensors"))
    torch.save({"model": state}, tmp_path / "blip2.pth")
    (tmp_path / "hf").mkdir()
    save_file(state, str(tmp_path / "hf" / "model.safetensors"))
    reports = [init_qformer_from(projector(), tmp_path / name)
               for name in ("blip2.safetensors", "blip2.pth", "hf")]
    assert reports[0].copied == reports[1].copied == reports[2].copied != []


def test_several_qformers_in_one_source_are_refused():
    state = {"image_query_tokens": torch.zeros(1, K, HIDDEN),
             "video_query_tokens": torch.zeros(1, K, HIDDEN)}
    with pytest.raises(CheckpointError, match="several Q-Formers"):
        init_qformer_from(projector(), state)


def test_only_qformers_take_foreign_weights():
    with pytest.raises(XalignError, match="cannot initialise a linear projector"):
        init_qformer_from(projector("linear"), blip2_state())
