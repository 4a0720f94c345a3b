"""ULIP-2 PointBERT: load a checkpoint in ULIP's key layout, check shapes, errors and the math.

The reference below is a small model laid out exactly as ULIP's ``PointTransformer``
(Conv1d/BatchNorm group encoder, ``blocks.blocks.N.attn.qkv`` …) with its forward
pass written the way ULIP writes it: its state dict gives the checkpoint keys,
and its output is what our loader-built encoder must reproduce.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from xalign_plugin_3d import synthesize
from xalign_plugin_3d.encoders.ulip import load_ulip_pointbert
from xalign_plugin_3d.preprocess import preprocess

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign.registry import get_registry

D, DEPTH, HEADS, GROUPS, GROUP_SIZE, ENC, EMBED = 32, 2, 2, 16, 8, 24, 40


class RefMlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, 3 * D), nn.Linear(3 * D, D)


class RefAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(D, 3 * D, bias=False), nn.Linear(D, D)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        attn = (qkv[0] @ qkv[1].transpose(-2, -1) * (c // HEADS) ** -0.5).softmax(-1)
        return self.proj((attn @ qkv[2]).transpose(1, 2).reshape(b, n, c))


class RefBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = (nn.LayerNorm(D), RefAttention(),
                                                       nn.LayerNorm(D), RefMlp())

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        h = self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(self.norm2(x))))
        return x + h


class RefEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first_conv = nn.Sequential(nn.Conv1d(3, 16, 1), nn.BatchNorm1d(16), nn.ReLU(),
                                        nn.Conv1d(16, 20, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(40, 28, 1), nn.BatchNorm1d(28), nn.ReLU(),
                                         nn.Conv1d(28, ENC, 1))

    def forward(self, groups):  # B G S 3, channels first as in ULIP
        b, g, s, _ = groups.shape
        f = self.first_conv(groups.reshape(b * g, s, 3).transpose(2, 1))
        f = torch.cat([f.max(2, keepdim=True)[0].expand(-1, -1, s), f], dim=1)
        return self.second_conv(f).max(2)[0].reshape(b, g, ENC)


class RefPointTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.reduce_dim = RefEncoder(), nn.Linear(ENC, D)
        self.cls_token = nn.Parameter(torch.randn(1, 1, D))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, D))
        self.pos_embed = nn.Sequential(nn.Linear(3, 12), nn.GELU(), nn.Linear(12, D))
        self.blocks = nn.Module()
        self.blocks.blocks = nn.ModuleList(RefBlock() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(D)

    def forward(self, pts):
        center, groups = _reference_grouping(pts[0])
        x = torch.cat([self.cls_token, self.reduce_dim(self.encoder(groups[None]))], dim=1)
        pos = torch.cat([self.cls_pos, self.pos_embed(center[None])], dim=1)
        for block in self.blocks.blocks:
            x = block(x + pos)
        x = self.norm(x)
        return torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)


def _reference_grouping(xyz):
    """FPS as the PointNet++ kernel does it (start at 0, skip |p|^2 <= 1e-3), then kNN."""
    pts = xyz.numpy().astype(np.float64)
    temp, chosen = np.full(len(pts), 1e10), [0]
    skip = (pts**2).sum(1) <= 1e-3
    for _ in range(GROUPS - 1):
        temp = np.minimum(temp, ((pts - pts[chosen[-1]]) ** 2).sum(1))
        chosen.append(int(np.where(skip, -1, temp).argmax()))
    center = xyz[chosen]
    idx = ((xyz[None] - center[:, None]) ** 2).sum(-1).topk(GROUP_SIZE, largest=False).indices
    return center, xyz[idx] - center[:, None]


class RefULIP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.point_encoder = RefPointTransformer()
        self.pc_projection = nn.Parameter(torch.randn(2 * D, EMBED) * 0.1)
        self.logit_scale = nn.Parameter(torch.ones([]))  # a non-3D key, to be ignored


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine OpenMP waits dominate otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference() -> RefULIP:
    torch.manual_seed(0)
    model = RefULIP()
    encoder = model.point_encoder.encoder
    for bn in (encoder.first_conv[1], encoder.second_conv[1]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def _save(folder, reference, edit=None, config=None, name="ulip2.pt"):
    state = {"module." + k: v.clone() for k, v in reference.state_dict().items()}
    if edit:
        edit(state)
    folder.mkdir(parents=True, exist_ok=True)
    blob = {"state_dict": state, "epoch": "last", "best_acc1": 1.0,
            "args": argparse.Namespace(model="ULIP2_PointBERT", npoints=8192)}
    if name.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / name))
    else:
        torch.save(blob, folder / name)
    config = {"num_heads": HEADS, "num_group": GROUPS, "group_size": GROUP_SIZE, **(config or {})}
    (folder / "pointbert.json").write_text(json.dumps(config))
    return folder / name


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return torch.cat([preprocess(synthesize(seed).raw) for seed in (1, 2)])


def test_loads_ulip_layout_and_matches_the_reference_math(tmp_path, reference, points):
    encoder = build_encoder(str(_save(tmp_path, reference)))
    assert isinstance(encoder, FrozenEncoder) and encoder.feature_dim == EMBED
    assert not any(p.requires_grad for p in encoder.parameters())
    cfg = encoder.backbone.cfg
    assert (cfg.trans_dim, cfg.depth, cfg.encoder_dims, cfg.mlp_hidden, cfg.embed_dim) == (
        D, DEPTH, ENC, 3 * D, EMBED)
    features = encoder(points)
    assert features.shape == (2, 1 + GROUPS, EMBED)
    with torch.no_grad():
        for i in range(2):
            embedding = reference.point_encoder(points[i : i + 1]) @ reference.pc_projection
            assert torch.allclose(features[i, 0], embedding[0], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(features[0, 0], features[1, 0], atol=1e-3)


def test_global_and_hidden_outputs(tmp_path, reference, points):
    tokens = build_encoder(str(_save(tmp_path / "t", reference)))(points)
    glob = build_encoder(str(_save(tmp_path / "g", reference, config={"output": "global"})))
    hidden = build_encoder(str(_save(tmp_path / "h", reference, config={"output": "hidden"})))
    assert torch.allclose(glob(points)[:, 0], tokens[:, 0], atol=1e-6)
    h = hidden(points)
    assert h.shape == (2, 1 + GROUPS, D) and hidden.feature_dim == D
    projection = reference.pc_projection.detach()
    group_tokens = h[:, :1] @ projection[:D] + h[:, 1:] @ projection[D:]
    assert torch.allclose(tokens[:, 1:], group_tokens, atol=1e-5)


def test_bare_and_safetensors_checkpoints_give_the_same_features(tmp_path, reference, points):
    want = build_encoder(str(_save(tmp_path / "a", reference)))(points)
    path = _save(tmp_path / "b", reference, name="ulip2.safetensors")
    assert torch.allclose(build_encoder(str(path))(points), want, atol=1e-6)
    assert torch.allclose(build_encoder(str(path.parent))(points), want, atol=1e-6)  # folder


def test_mis_shaped_key_is_named(tmp_path, reference):
    key = "module.point_encoder.blocks.blocks.1.mlp.fc2.weight"

    def edit(state):
        state[key] = torch.zeros(D, 3 * D + 1)

    with pytest.raises(CheckpointError, match=key.replace(".", r"\.") + ".*shape"):
        load_ulip_pointbert(_save(tmp_path, reference, edit))


def test_mis_shaped_projection_is_named(tmp_path, reference):
    def edit(state):
        state["module.pc_projection"] = torch.zeros(D, EMBED)

    with pytest.raises(CheckpointError, match=r"module\.pc_projection"):
        load_ulip_pointbert(_save(tmp_path, reference, edit))


def test_missing_key_is_named(tmp_path, reference):
    key = "module.point_encoder.encoder.second_conv.1.running_var"

    def edit(state):
        del state[key]

    with pytest.raises(CheckpointError, match=r"missing.*second_conv\.1\.running_var"):
        load_ulip_pointbert(_save(tmp_path, reference, edit))


def test_coloured_pointbert_is_refused_with_a_reason(tmp_path, reference):
    def edit(state):
        state["module.point_encoder.encoder.first_conv.0.weight"] = torch.zeros(16, 6, 1)

    with pytest.raises(CheckpointError, match="colour"):
        load_ulip_pointbert(_save(tmp_path, reference, edit))


def test_bad_sources(tmp_path, reference):
    with pytest.raises(CheckpointError, match=r"ULIP-2 PointBERT checkpoint .* not found"):
        build_encoder(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk" / "junk.pt"
    junk.parent.mkdir()
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_ulip_pointbert(junk)
    path = _save(tmp_path / "cfg", reference, config={"heads": 2})
    with pytest.raises(UnknownNameError, match="num_heads"):
        load_ulip_pointbert(path)


def test_forward_time_of_the_tiny_pointbert(tmp_path, reference, points):
    encoder = build_encoder(str(_save(tmp_path, reference)))
    item = points[:1]
    encoder(item)
    best = min(_timed(lambda: encoder(item)) for _ in range(3))
    print(f"\ntiny PointBERT ({GROUPS} groups, depth {DEPTH}): {best * 1000:.1f} ms per item")
    assert best < 1.0


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_encoder(source: str) -> FrozenEncoder:
    """The 3D encoder a recipe's ``encoder.source`` path names (ULIP-2 PointBERT)."""
    return get_registry().build_encoder("3d", source)
