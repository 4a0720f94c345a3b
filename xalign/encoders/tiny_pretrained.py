"""Shared blocks of the pretrained tiny encoders: tokenizer -> Transformer -> pool.

Every plugin's pretrained tiny encoder is ``TokenEncoder(tokenizer)``: a modality-specific
but generic tokenizer (conv patches, point grouping), a small pre-norm Transformer and a pool
(a few learned queries for a set, strided means for a sequence in time), so that the output
``[N, K, d]`` stays short (the Q-Former cross-attends to it). Nothing in it is computed for
a named attribute: the weights come from :mod:`xalign.encoders.pretrain` (contrastive
media↔caption alignment) and ship as safetensors inside the plugin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import CheckpointError

WEIGHTS_FILE = "model.safetensors"


class AttentionPool(nn.Module):
    """``[N, T, width]`` -> ``[N, K, dim]``: K learned queries attend over the T tokens (one
    layer), then a linear map to ``dim`` and a LayerNorm. A generic learned summary, in place
    of a fixed mean or salience pool."""

    def __init__(self, width: int, queries: int, heads: int, dim: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(1, queries, width) * 0.02)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.out = nn.Linear(width, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        queries = self.queries.expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attention(queries, tokens, tokens, need_weights=False)
        return self.norm(self.out(pooled + queries))


class StridedPool(nn.Module):
    """``[N, T, width]`` -> ``[N, K, dim]``: the mean of each run of ``T / K`` consecutive
    tokens, then a linear map to ``dim`` and a LayerNorm. For a sequence in time: the K
    tokens keep when things happen and, unlike a softmax-weighted pool, how many of them
    there are (a mean over a fixed span grows with the events in it; a softmax pool
    normalises that away). The Q-Former downstream is the learned summary, as it is over
    BEATs' frame tokens in the paper."""

    def __init__(self, width: int, tokens: int, dim: int) -> None:
        super().__init__()
        self.tokens = tokens
        self.out = nn.Linear(width, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n, length, width = tokens.shape
        if length % self.tokens:
            raise ValueError(f"{length} tokens do not split into {self.tokens} equal runs")
        runs = tokens.view(n, self.tokens, length // self.tokens, width).mean(2)
        return self.norm(self.out(runs))


POOLS = ("attention", "strided")


class TokenEncoder(nn.Module):
    """``tokenizer`` (input ``[N, ...]`` -> ``[N, T, width]``) + learned positions + a small
    pre-norm Transformer of ``width`` channels + a pool -> ``[N, out_tokens, dim]``: an
    :class:`AttentionPool` (a set: points, pixels) or a :class:`StridedPool` (a sequence in
    time). A width below ``dim`` keeps pretraining cheap on a CPU."""

    def __init__(self, tokenizer: nn.Module, width: int, max_tokens: int, out_tokens: int,
                 dim: int = 256, depth: int = 2, heads: int = 4,
                 pool: str = "attention") -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.tokenizer = tokenizer
        self.position = nn.Parameter(torch.randn(1, max_tokens, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width,
                                           dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.pool = (AttentionPool(width, out_tokens, heads, dim) if pool == "attention"
                     else StridedPool(width, out_tokens, dim))
        self.dim, self.out_tokens = dim, out_tokens

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer(inputs)
        tokens = tokens + self.position[:, : tokens.shape[1]]
        return self.pool(self.norm(self.blocks(tokens)))


def load_weights(module: nn.Module, folder: str | Path) -> nn.Module:
    """Load ``folder/model.safetensors`` into ``module`` (every key, every shape must match)."""
    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"pretrained encoder weights not found: {path}")
    state = load_file(str(path))
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{path}: missing keys {missing[:5]}, unexpected {unexpected[:5]}")
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise CheckpointError(f"{path}: {key} has shape {tuple(value.shape)}, the "
                                  f"encoder expects {tuple(own[key].shape)}")
    module.load_state_dict(state)
    return module


def build_frozen(build: Callable[[], TokenEncoder], folder: str | Path, encoder_id: str
                 ) -> FrozenEncoder:
    """``build()`` with the weights of ``folder``, frozen. The id gets the weights' short
    SHA-256, so that a feature cache or a projector never mixes two trainings. Building
    leaves the caller's random state as it was (the initial weights are overwritten)."""
    from xalign.encoders.tiny import seeded

    with seeded(0):
        module = build()
    load_weights(module, folder)
    digest = hashlib.sha256((Path(folder) / WEIGHTS_FILE).read_bytes()).hexdigest()[:12]
    frozen = FrozenEncoder(module, module.dim, f"{encoder_id}@{digest}")
    frozen.weights_digest = digest
    return frozen
