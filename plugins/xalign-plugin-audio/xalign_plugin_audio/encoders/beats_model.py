"""BEATs (Chen et al. 2022, arXiv 2212.09058) audio encoder, written from the paper's
architecture: 16×16 patch embedding of the fbank, a convolutional positional
embedding, and a wav2vec2-style Transformer with bucketed relative position bias,
gated by the query (the "gru_rel_pos" gate of WavLM) and DeepNorm residual scaling.

The input is the normalised fbank window ``[N, frames, 128]`` that
:mod:`xalign_plugin_audio.preprocess` produces (exactly the tensor BEATs builds
internally); the output is ``[N, frames/16 · 8, encoder_embed_dim]``.
Parameter names are our own; :mod:`.beats_checkpoint` maps the official ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_accurate": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}


@dataclass
class BEATsConfig:
    """The architecture fields of an official BEATs ``cfg`` (training-only fields are ignored)."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = False
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = False
    num_buckets: int = 320
    max_distance: int = 1280
    gru_rel_pos: bool = False
    finetuned_model: bool = False
    predictor_class: int = 527

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BEATsConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def relative_buckets(length: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bucket index ``[length, length]`` of each (query, key) offset, T5-style, bidirectional.

    Half the buckets per direction; within a direction, offsets below a quarter of
    the buckets get their own bucket and larger ones share log-spaced buckets up to
    ``max_distance``.
    """
    pos = torch.arange(length)
    offset = pos[None, :] - pos[:, None]  # key minus query
    half = num_buckets // 2
    exact = half // 2
    bucket = (offset > 0).long() * half
    distance = offset.abs()
    spread = torch.log(distance.clamp_min(1).float() / exact) / math.log(max_distance / exact)
    far = (exact + (spread * (half - exact)).long()).clamp_max(half - 1)
    return bucket + torch.where(distance < exact, distance, far)


class SelfAttention(nn.Module):
    """Multi-head self-attention plus an (optionally query-gated) relative position bias."""

    def __init__(self, cfg: BEATsConfig) -> None:
        super().__init__()
        dim, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        if dim % self.heads:
            raise ValueError(f"encoder_embed_dim {dim} is not divisible by {self.heads} heads")
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.gated = cfg.gru_rel_pos
        if self.gated:
            self.gate = nn.Linear(dim // self.heads, 8)
            self.gate_scale = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        n, t, dim = x.shape
        split = lambda y: y.view(n, t, self.heads, dim // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if bias is not None and self.gated:
            # per-query gate in (1, 1 + gate_scale]: two sigmoids of sums of 4 projections each
            a, b = torch.sigmoid(self.gate(q).view(n, self.heads, t, 2, 4).sum(-1)).chunk(2, -1)
            bias = (a * (b * self.gate_scale - 1.0) + 2.0) * bias  # [N, H, T, 1] * [1, H, T, T]
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.out(context.transpose(1, 2).reshape(n, t, dim))


class Block(nn.Module):
    """Attention + feed-forward, post-norm with DeepNorm scaling or pre-norm."""

    def __init__(self, cfg: BEATsConfig) -> None:
        super().__init__()
        dim = cfg.encoder_embed_dim
        if cfg.activation_fn not in ACTIVATIONS:
            raise ValueError(f"unsupported activation_fn {cfg.activation_fn!r}; "
                             f"choices: {', '.join(ACTIVATIONS)}")
        self.act = ACTIVATIONS[cfg.activation_fn]
        self.attn = SelfAttention(cfg)
        self.attn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, cfg.encoder_ffn_embed_dim)
        self.ffn_out = nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.pre_norm = cfg.layer_norm_first
        self.alpha = (2 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn_out(self.act(self.ffn_in(x)))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attn(self.attn_norm(x), bias)
            return x + self.ffn(self.ffn_norm(x))
        x = self.attn_norm(x * self.alpha + self.attn(x, bias))
        return self.ffn_norm(x * self.alpha + self.ffn(x))


class BEATs(nn.Module):
    """BEATs feature extractor: ``[N, frames, mel_bins]`` -> ``[N, tokens, encoder_embed_dim]``."""

    def __init__(self, cfg: BEATsConfig) -> None:
        super().__init__()
        self.cfg = cfg
        p, dim = cfg.input_patch_size, cfg.encoder_embed_dim
        self.patch_embed = nn.Conv2d(1, cfg.embed_dim, kernel_size=p, stride=p, bias=cfg.conv_bias)
        self.patch_norm = nn.LayerNorm(cfg.embed_dim)
        self.proj = nn.Linear(cfg.embed_dim, dim) if cfg.embed_dim != dim else None
        self.pos_conv = nn.Conv1d(dim, dim, kernel_size=cfg.conv_pos, padding=cfg.conv_pos // 2,
                                  groups=cfg.conv_pos_groups)
        self.rel_bias = (nn.Embedding(cfg.num_buckets, cfg.encoder_attention_heads)
                         if cfg.relative_position_embedding else None)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.encoder_layers))
        self.encoder_norm = nn.LayerNorm(dim)

    def position_bias(self, length: int) -> torch.Tensor | None:
        """Relative position bias ``[heads, length, length]``, shared by every layer."""
        if self.rel_bias is None:
            return None
        buckets = relative_buckets(length, self.cfg.num_buckets, self.cfg.max_distance)
        return self.rel_bias(buckets.to(self.rel_bias.weight.device)).permute(2, 0, 1)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(fbank.unsqueeze(1)).flatten(2).transpose(1, 2)  # time-major tokens
        x = self.patch_norm(x)
        if self.proj is not None:
            x = self.proj(x)
        # "same" convolution; an even kernel yields one extra step, dropped at the end
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2))[..., : x.shape[1]]).transpose(1, 2)
        if not self.cfg.layer_norm_first:
            x = self.encoder_norm(x)
        bias = self.position_bias(x.shape[1])
        if bias is not None:
            bias = bias.to(x.dtype).unsqueeze(0)
        for block in self.blocks:
            x = block(x, bias)
        return self.encoder_norm(x) if self.cfg.layer_norm_first else x
