"""PointBERT as ULIP-2 uses it (ULIP's ``PointTransformer``), written for xalign.

Forward pass for ``points [N, P, 3]``:

1. grouping: ``num_group`` centres by farthest point sampling (first centre =
   point 0; points within ``|p|² <= 1e-3`` of the origin are never picked later,
   as in the CUDA kernel ULIP uses), each with its ``group_size`` nearest points,
   taken relative to it;
2. group encoder (mini-PointNet): per-point MLP ``3 -> 128 -> 256`` (with
   batch norm), max-pool over the group, concatenate the pooled vector to every
   point, MLP ``512 -> 512 -> encoder_dims``, max-pool again;
3. ``reduce`` to ``trans_dim``, a learned CLS token in front;
4. position embedding MLP ``3 -> 128 -> trans_dim`` of the centres (a learned
   ``cls_pos`` for CLS), added to the input of *every* block;
5. ``depth`` pre-norm blocks (multi-head attention without qkv bias, GELU MLP),
   final LayerNorm -> hidden tokens ``h [N, 1 + G, trans_dim]``;
6. ULIP's 3D embedding: ``[h_cls ‖ max_i h_i] @ pc_projection`` (512-d for ULIP-2).

What the encoder returns (``PointBertConfig.output``):

* ``"tokens"`` (default) ``[N, 1 + G, E]``: token 0 is the ULIP-2 embedding of
  step 6; token ``i`` is ``[h_cls ‖ h_i] @ pc_projection``, i.e. the same
  projection with group ``i`` in the place of the max-pooled group feature, so
  every token lives in ULIP-2's 512-d embedding space;
* ``"global"`` ``[N, 1, E]``: only the ULIP-2 embedding, which is what LAVIS'
  X-InstructBLIP feeds its 3D Q-Former (one token, ``num_features_pc=512``);
* ``"hidden"`` ``[N, 1 + G, trans_dim]``: the normalised transformer tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from xalign_plugin_3d.geometry import farthest_point_sample_torch, knn_groups

OUTPUTS = ("tokens", "global", "hidden")


@dataclass
class PointBertConfig:
    """Hyper-parameters; defaults are ULIP-2 PointBERT's (``PointTransformer_8192point.yaml``)."""

    trans_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    num_group: int = 512
    group_size: int = 32
    encoder_dims: int = 256
    in_dims: int = 3
    first_hidden: int = 128  # group encoder widths (fixed in ULIP, inferred from shapes here)
    first_out: int = 256
    second_hidden: int = 512
    pos_hidden: int = 128
    mlp_hidden: int = 1536
    qkv_bias: bool = False
    embed_dim: int | None = 512  # pc_projection columns; None: no projection
    output: str = "tokens"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def feature_dim(self) -> int:
        return self.trans_dim if self.output == "hidden" else int(self.embed_dim or 0)


class GroupEncoder(nn.Module):
    """Mini-PointNet: ``[B, G, S, C]`` groups -> ``[B, G, encoder_dims]``."""

    def __init__(self, cfg: PointBertConfig) -> None:
        super().__init__()
        self.lin1 = nn.Linear(cfg.in_dims, cfg.first_hidden)
        self.bn1 = nn.BatchNorm1d(cfg.first_hidden)
        self.lin2 = nn.Linear(cfg.first_hidden, cfg.first_out)
        self.lin3 = nn.Linear(2 * cfg.first_out, cfg.second_hidden)
        self.bn2 = nn.BatchNorm1d(cfg.second_hidden)
        self.lin4 = nn.Linear(cfg.second_hidden, cfg.encoder_dims)

    @staticmethod
    def _norm(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        b, g, s, c = groups.shape
        x = groups.reshape(b * g, s, c)
        x = self.lin2(F.relu(self._norm(self.bn1, self.lin1(x))))  # [BG, S, first_out]
        pooled = x.max(dim=1, keepdim=True).values.expand(-1, s, -1)
        x = torch.cat([pooled, x], dim=-1)  # pooled first, as the checkpoints expect
        x = self.lin4(F.relu(self._norm(self.bn2, self.lin3(x))))
        return x.max(dim=1).values.reshape(b, g, -1)


class Block(nn.Module):
    """Pre-norm transformer block with ULIP's parameter set (``qkv`` packs q, k, v)."""

    def __init__(self, cfg: PointBertConfig) -> None:
        super().__init__()
        d = cfg.trans_dim
        self.heads = cfg.num_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=cfg.qkv_bias)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.mlp_hidden)
        self.fc2 = nn.Linear(cfg.mlp_hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, d // self.heads).unbind(2)
        attn = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                              v.transpose(1, 2))  # scale 1/sqrt(head_dim)
        x = x + self.out(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class PointBert(nn.Module):
    """``points [N, P, 3]`` -> features as chosen by ``cfg.output`` (see the module docstring)."""

    def __init__(self, cfg: PointBertConfig) -> None:
        super().__init__()
        if cfg.output not in OUTPUTS:
            raise ValueError(f"unknown PointBERT output {cfg.output!r}; choices: "
                             + ", ".join(OUTPUTS))
        if cfg.trans_dim % cfg.num_heads:
            raise ValueError(f"trans_dim {cfg.trans_dim} is not divisible by "
                             f"num_heads {cfg.num_heads}")
        self.cfg = cfg
        self.group_encoder = GroupEncoder(cfg)
        self.reduce = nn.Linear(cfg.encoder_dims, cfg.trans_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.trans_dim))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, cfg.trans_dim))
        self.pos_mlp = nn.Sequential(
            nn.Linear(3, cfg.pos_hidden), nn.GELU(), nn.Linear(cfg.pos_hidden, cfg.trans_dim)
        )
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.trans_dim)
        self.projection = (None if cfg.embed_dim is None else
                           nn.Parameter(torch.randn(2 * cfg.trans_dim, cfg.embed_dim) * 0.02))

    def hidden(self, points: torch.Tensor) -> torch.Tensor:
        """Normalised transformer tokens ``[N, 1 + G, trans_dim]`` (CLS first)."""
        xyz = points[..., :3].contiguous()
        idx = farthest_point_sample_torch(xyz, self.cfg.num_group, skip_near_origin=True)
        centers = torch.gather(xyz, 1, idx[..., None].expand(-1, -1, 3))
        groups = knn_groups(xyz, centers, self.cfg.group_size)
        tokens = self.reduce(self.group_encoder(groups))
        n = tokens.shape[0]
        x = torch.cat([self.cls_token.expand(n, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(n, -1, -1), self.pos_mlp(centers)], dim=1)
        for block in self.blocks:
            x = block(x + pos)
        return self.norm(x)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        h = self.hidden(points)
        if self.cfg.output == "hidden":
            return h
        if self.projection is None:
            raise RuntimeError("this PointBERT has no pc_projection; use output='hidden'")
        d = self.cfg.trans_dim
        top, bottom = self.projection[:d], self.projection[d:]  # CLS rows, pooled-group rows
        cls_part = h[:, :1] @ top  # [N, 1, E]
        embedding = cls_part + h[:, 1:].max(dim=1, keepdim=True).values @ bottom
        if self.cfg.output == "global":
            return embedding
        return torch.cat([embedding, cls_part + h[:, 1:] @ bottom], dim=1)
