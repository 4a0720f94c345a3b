"""Building blocks for the built-in tiny encoders of the offline default.

They are *not pretrained*: random weights fixed by a seed, so that every
machine builds the same frozen features. Each plugin supplies a tokenizer
(patchify conv, point grouping…) and reuses :class:`TinyTransformer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build modules deterministically without touching the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class TinyTransformer(nn.Module):
    """``tokenizer`` (input -> ``[N, T, dim]``) followed by a small pre-norm Transformer."""

    def __init__(self, tokenizer: nn.Module, dim: int, depth: int = 2, heads: int = 4,
                 max_tokens: int = 1024) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.position = nn.Parameter(torch.randn(1, max_tokens, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer(inputs)
        tokens = tokens + self.position[:, : tokens.shape[1]]
        return self.norm(self.blocks(tokens))


def build_tiny(make_tokenizer: Callable[[], nn.Module], dim: int, seed: int,
               **kwargs: int) -> TinyTransformer:
    """Build a :class:`TinyTransformer` whose weights depend only on ``seed``."""
    with seeded(seed):
        return TinyTransformer(make_tokenizer(), dim, **kwargs)
