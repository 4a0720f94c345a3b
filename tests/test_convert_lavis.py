"""LAVIS X-InstructBLIP checkpoints -> xalign Q-Former projectors.

The synthetic checkpoint is written in LAVIS's key layout from a reference Q-Former;
after conversion the xalign projector must compute exactly what the reference computes.
"""

from __future__ import annotations

import os
import pickletools
import zipfile

import pytest
import torch
from torch import nn
from transformers.models.instructblip.configuration_instructblip import InstructBlipQFormerConfig
from transformers.models.instructblip.modeling_instructblip import InstructBlipQFormerModel
from typer.testing import CliRunner

from xalign.cli.convert import app
from xalign.convert import convert_lavis
from xalign.errors import CheckpointError, UnknownNameError
from xalign.projectors import load_projector

K, VOCAB, LLM = 6, 70, 40
FEATURES = {"audio": 24, "pc": 16}


def to_lavis_name(name: str) -> str:
    """transformers' Q-Former name -> LAVIS BERT name (written independently of xalign)."""
    return (name.replace("attention.attention.", "attention.self.")
            .replace("embeddings.layernorm.", "embeddings.LayerNorm."))


class Reference(nn.Module):
    """ln -> Q-Former(queries ‖ instruction) -> llm_proj, with its own weights."""

    def __init__(self, feature_dim: int, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        config = InstructBlipQFormerConfig(
            vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
            intermediate_size=512, cross_attention_frequency=1, encoder_hidden_size=feature_dim,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        self.qformer = InstructBlipQFormerModel(config)
        self.query_tokens = nn.Parameter(torch.randn(1, K, hidden))
        self.ln = nn.LayerNorm(feature_dim)
        self.llm_proj = nn.Linear(hidden, LLM)
        with torch.no_grad():
            for p in self.parameters():
                p.add_(torch.randn_like(p) * 0.05)

    def forward(self, features, ids, mask):
        attention = torch.cat([torch.ones(ids.shape[0], K, dtype=mask.dtype), mask], dim=1)
        out = self.qformer(input_ids=ids, attention_mask=attention,
                           query_embeds=self.query_tokens.expand(ids.shape[0], -1, -1),
                           encoder_hidden_states=self.ln(features))
        return self.llm_proj(out.last_hidden_state[:, :K])


def lavis_state(m: str, ref: Reference) -> dict[str, torch.Tensor]:
    state = {f"{m}_Qformer.bert.{to_lavis_name(k)}": v for k, v in ref.qformer.state_dict().items()}
    state[f"{m}_Qformer.bert.embeddings.position_ids"] = torch.arange(512)[None]
    state[f"{m}_query_tokens"] = ref.query_tokens.data
    state |= {f"{m}_ln.{k}": v for k, v in ref.ln.state_dict().items()}
    state |= {f"{m}_llm_proj.{k}": v for k, v in ref.llm_proj.state_dict().items()}
    return state


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    refs = {m: Reference(d).eval() for m, d in FEATURES.items()}
    state = {}
    for m, ref in refs.items():
        state |= lavis_state(m, ref)
    path = tmp_path_factory.mktemp("lavis") / "xinstructblip.pth"
    torch.save({"model": state, "epoch": 3, "config": {"run": {"init_lr": 1e-5}}}, path)
    return path, state, refs


def save_variant(tmp_path, state, **changes) -> str:
    state = dict(state)
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    path = tmp_path / "variant.pth"
    torch.save({"model": state}, path)
    return str(path)


def test_converted_projectors_compute_what_lavis_computes(checkpoint, tmp_path):
    path, _, refs = checkpoint
    results = convert_lavis(path, tmp_path)
    assert sorted(r.modality for r in results) == ["3d", "audio"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3d", "audio"]
    for lavis_name, xalign_name in (("audio", "audio"), ("pc", "3d")):
        projector = load_projector(tmp_path / xalign_name, llm_dim=LLM,
                                   feature_dim=FEATURES[lavis_name])
        config = projector.config
        assert (config.modality, config.cue, config.preset, config.num_tokens) == \
               (xalign_name, f" {xalign_name}: ", "tiny", K)
        assert (config.instruction_tokenizer, config.instruction_vocab_size) == \
               ("bert-base-uncased", VOCAB)
        g = torch.Generator().manual_seed(5)
        features = torch.randn(3, 9, FEATURES[lavis_name], generator=g)
        ids = torch.randint(0, VOCAB, (3, 5), generator=g)
        mask = torch.ones_like(ids)
        mask[0, 3:] = 0
        with torch.no_grad():
            torch.testing.assert_close(projector(features, ids, mask),
                                       refs[lavis_name](features, ids, mask), rtol=0, atol=1e-6)


def test_modalities_can_be_chosen_by_either_name(checkpoint, tmp_path):
    path, _, _ = checkpoint
    assert [r.lavis_modality for r in convert_lavis(path, tmp_path, modalities=["3d"])] == ["pc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3d"]
    with pytest.raises(UnknownNameError, match=r"'image'.*choices: 3d, audio, pc"):
        convert_lavis(path, tmp_path, modalities=["image"])


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.pth"
    torch.save({"model": {"audio_query_tokens": torch.zeros(1, K, 128), "x": Payload()}}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused to unpickle"):
        convert_lavis(path, tmp_path / "out")
    assert not marker.exists()
    # the file does carry the payload: its pickle calls mkdir on the marker (read as opcodes,
    # never unpickled)
    with zipfile.ZipFile(path) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("data.pkl")]
        strings = {str(arg) for _, arg, _ in pickletools.genops(archive.read(name))}
    assert str(marker) in strings
    assert any("mkdir" in s for s in strings)


def test_missing_key_is_named(checkpoint, tmp_path):
    _, state, _ = checkpoint
    key = "audio_Qformer.bert.encoder.layer.1.output_query.dense.weight"
    with pytest.raises(CheckpointError, match=f"key {key} is missing"):
        convert_lavis(save_variant(tmp_path, state, **{key: None}), tmp_path / "out")


def test_misshaped_key_is_named(checkpoint, tmp_path):
    _, state, _ = checkpoint
    key = "audio_Qformer.bert.encoder.layer.0.crossattention.self.key.weight"
    with pytest.raises(CheckpointError, match=rf"key {key} has shape \(128, 23\), expected "
                                              r"\(128, 24\)"):
        convert_lavis(save_variant(tmp_path, state, **{key: torch.zeros(128, 23)}),
                      tmp_path / "out")


def test_unexpected_key_is_named(checkpoint, tmp_path):
    _, state, _ = checkpoint
    key = "pc_Qformer.bert.encoder.layer.0.attention.self.rotary.weight"
    with pytest.raises(CheckpointError, match=f"unexpected key {key}"):
        convert_lavis(save_variant(tmp_path, state, **{key: torch.zeros(3)}), tmp_path / "out")


def test_geometry_without_a_preset_is_refused(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "odd.pth"
    torch.save({"model": lavis_state("image", Reference(8, hidden=64, layers=1))}, path)
    with pytest.raises(CheckpointError, match=r"hidden_size=64, num_hidden_layers=1.*matches no "
                                              r"xalign preset"):
        convert_lavis(path, tmp_path / "out")


def test_llm_width_check(checkpoint, tmp_path):
    path, _, _ = checkpoint
    with pytest.raises(CheckpointError, match="LLM of width 40, not the requested --llm-dim 4096"):
        convert_lavis(path, tmp_path, llm_dim=4096)


def test_cli_converts_one_modality(checkpoint, tmp_path):
    path, _, _ = checkpoint
    result = CliRunner().invoke(app, ["lavis", str(path), "--out", str(tmp_path), "-m", "audio",
                                      "--llm-id", "tiny-llm", "--encoder-id", "audio=beats-tiny"])
    assert result.exit_code == 0, result.output
    config = load_projector(tmp_path / "audio").config
    assert (config.llm_id, config.encoder_id) == ("tiny-llm", "beats-tiny")
    assert not (tmp_path / "3d").exists()
