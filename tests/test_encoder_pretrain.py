"""Generic encoder pretraining: its data never overlaps an evaluation split, the command
reproduces weights bit for bit, the loss handles duplicate captions, and the shipped
pretrained encoders load with the documented shapes."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from xalign.data.synthetic import MAX_ITEMS, MAX_SEED, SPLITS, sample_seed
from xalign.encoders.pretrain import (
    PRETRAIN_SEED_START,
    TEXT_DIM,
    contrastive_loss,
    pretrain_seed,
)

PRETRAINED = {  # modality -> module of its pretrained tiny encoder
    "audio": "xalign_plugin_audio.encoders.tiny_pretrained",
    "3d": "xalign_plugin_3d.encoders.tiny_pretrained",
    "image": "xalign_plugin_image.encoders.tiny_pretrained",
    "video": "xalign_plugin_video.tiny_pretrained",
}
# the bit-for-bit check loads MiniLM twice per modality: one in `make test`, the rest slow
REPRODUCE = [m if m == "audio" else pytest.param(m, marks=pytest.mark.slow)
             for m in sorted(PRETRAINED)]


def test_pretrain_stream_is_disjoint_from_every_split():
    # the largest seed any split can produce is below the first pretraining seed ...
    top = max(sample_seed(MAX_SEED - 1, split, MAX_ITEMS - 1) for split in SPLITS)
    assert top < PRETRAIN_SEED_START == pretrain_seed(0)
    # ... because base seeds and indices are bounded (DisCRn, SyntheticSource, the world
    # writer and the caption builders all go through sample_seed)
    with pytest.raises(ValueError):
        sample_seed(MAX_SEED, "test", 0)
    with pytest.raises(ValueError):
        sample_seed(0, "test", MAX_ITEMS)
    with pytest.raises(ValueError):
        pretrain_seed(-1)


@pytest.mark.parametrize("modality", sorted(PRETRAINED))
def test_generators_accept_pretraining_seeds(modality):
    spec = importlib.import_module(PRETRAINED[modality]).PRETRAIN
    a, b = spec.synthesize(pretrain_seed(0)), spec.synthesize(pretrain_seed(1))
    assert a.caption and b.caption
    assert not np.array_equal(np.asarray(a.raw), np.asarray(b.raw))  # PIL, arrays, tensors


def test_duplicate_captions_are_one_target_not_negatives():
    bank = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    ids = torch.tensor([0, 0, 1])  # items 0 and 1 share a caption
    scale = torch.tensor(50.0)
    aligned = contrastive_loss(bank[ids], bank, ids, scale)
    # items 0 and 1 are identical: the best possible caption->media term is log 2 / 2 (caption
    # 0 spreads over two items) and media->caption ~0; the loss must not punish the duplicate
    assert aligned == pytest.approx(math.log(2) / 2 / 2, abs=1e-3)
    shuffled = contrastive_loss(bank[torch.tensor([1, 2, 0])], bank, ids, scale)
    assert shuffled > aligned + 1


def _run(modality: str, out: Path, *extra: str) -> bytes:
    from xalign.cli.encoders import app

    result = CliRunner().invoke(app, ["pretrain", "--modality", modality, "--out", str(out),
                                      "--steps", "2", "--batch-size", "3", *extra])
    assert result.exit_code == 0, result.output
    return (out / "model.safetensors").read_bytes()


@pytest.mark.parametrize("modality", REPRODUCE)
def test_pretrain_command_reproduces_weights_bit_for_bit(modality, tmp_path):
    pytest.importorskip("sentence_transformers")
    first = _run(modality, tmp_path / "a")
    second = _run(modality, tmp_path / "b")
    assert first == second
    # the comparison can fail: the untrained architecture differs from the trained one
    module = importlib.import_module(PRETRAINED[modality])
    from safetensors.torch import load_file

    trained = load_file(str(tmp_path / "a" / "model.safetensors"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        initial = module.build_architecture().state_dict()
    assert any(not torch.equal(trained[k], initial[k]) for k in initial)


@pytest.mark.parametrize("modality", sorted(PRETRAINED))
def test_shipped_pretrained_encoder(modality):
    module = importlib.import_module(PRETRAINED[modality])
    weights = module.WEIGHTS_DIR / "model.safetensors"
    assert weights.stat().st_size < 8 * 2**20
    card = (module.WEIGHTS_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"xalign encoders pretrain --modality {modality}" in card
    encoder = module.build_pretrained_tiny_encoder()
    spec = module.PRETRAIN
    inputs = spec.preprocess(spec.synthesize(sample_seed(0, "test", 0)).raw, False)
    features = encoder(inputs)
    assert features.shape == (inputs.shape[0], module.TOKENS_PER_FRAME, 256)
    assert torch.isfinite(features).all()
    assert not any(p.requires_grad for p in encoder.parameters())
    assert module.ENCODER_ID in encoder.encoder_id


def test_pretraining_can_start_from_another_encoders_weights(tmp_path):
    """``PretrainSpec.init``: the network starts from those weights (the video encoder from
    the image encoder's), and the record names them by digest."""
    import dataclasses
    import hashlib
    import json

    from safetensors.torch import load_file

    from xalign.encoders.pretrain import pretrain, save_result

    image = importlib.import_module(PRETRAINED["image"])
    start = load_file(str(image.WEIGHTS_DIR / "model.safetensors"))
    config = dataclasses.replace(image.PRETRAIN.config, steps=1, batch_size=2, lr=0.0)

    def embed(captions):  # a stand-in text tower: no MiniLM needed to check the start
        return np.stack([np.random.default_rng(list(c.encode())).normal(size=TEXT_DIM)
                         for c in captions])

    for init in (None, image.WEIGHTS_DIR):
        spec = dataclasses.replace(image.PRETRAIN, init=init)
        result = pretrain(spec, config, embed=embed)
        weights = result.encoder.state_dict()
        assert all(torch.equal(weights[k], start[k]) for k in start) == (init is not None)
    save_result(result, spec, config, tmp_path)
    record = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert record["init_sha256"] == hashlib.sha256(
        (image.WEIGHTS_DIR / "model.safetensors").read_bytes()).hexdigest()
