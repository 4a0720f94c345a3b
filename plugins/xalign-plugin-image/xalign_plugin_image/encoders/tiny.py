"""The built-in tiny image encoder: 16-pixel patches -> 256-d tokens -> 2 Transformer layers.

Random weights fixed by :data:`TINY_SEED` (not pretrained). Each patch is
embedded twice: half of every token is a random linear map of its raw pixels
(colour, brightness), the other half of the same patch after per-patch
contrast normalisation (edges and outline, whatever the colours), as in
random-feature image models; a fixed 2-D sine-cosine position is added. This
keeps colour, shape, count and position (and, across video frames, motion)
linearly recoverable from the 196 output tokens,
which the offline projector training needs (tests/test_image_synthetic.py
checks it with a linear probe). The video plugin uses this same network.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.encoders.tiny import TinyTransformer, build_tiny
from xalign.errors import CheckpointError

TINY_DIM = 256
TINY_PATCH = 16
TINY_DEPTH = 2
TINY_HEADS = 4
TINY_SEED = 20240501
TINY_ID = "xalign-image-tiny-2"  # the id projectors saved before encoders were registered
# weight of the sine-cosine positions against patch content: 1.0 drowns the outline half
# (shape decodes worse), 0.3 blurs where things are (video motion decodes worse)
POSITION_SCALE = 0.5


def sincos_grid(rows: int, cols: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine positions ``[rows·cols, dim]``: half the channels follow the
    row, half the column, at geometric frequencies (as in MAE)."""
    quarter = dim // 4
    frequencies = 1.0 / (100.0 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(rows, dtype=torch.float32),
                            torch.arange(cols, dtype=torch.float32), indexing="ij")
    parts = []
    for coordinate in (ys.flatten(), xs.flatten()):
        angles = coordinate[:, None] * frequencies[None, :]
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1)


class PatchTokenizer(nn.Module):
    """``Tensor[N, 3, H, W]`` -> ``Tensor[N, (H/p)·(W/p), dim]``: raw ‖ normalised patch."""

    def __init__(self, patch: int = TINY_PATCH, dim: int = TINY_DIM) -> None:
        super().__init__()
        self.patch = patch
        self.raw = nn.Linear(3 * patch * patch, dim // 2)
        self.outline = nn.Linear(3 * patch * patch, dim - dim // 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rows, cols = images.shape[-2] // self.patch, images.shape[-1] // self.patch
        patches = nn.functional.unfold(images, self.patch, stride=self.patch).transpose(1, 2)
        centred = patches - patches.mean(-1, keepdim=True)
        # +0.1: a flat patch maps to ~0 instead of amplified noise
        outline = centred / (centred.std(-1, keepdim=True) + 0.1)
        tokens = torch.cat([self.raw(patches), self.outline(outline)], dim=-1)
        # smooth positions (the core adds a random one too): where a thing is, and how far
        # it moved between video frames, stay linear functions of the features
        positions = sincos_grid(rows, cols, tokens.shape[-1]).to(tokens)
        return tokens + POSITION_SCALE * positions


def build_tiny_backbone(pool: bool = True) -> TinyTransformer:
    """The seeded network: ``[N, 3, 224, 224]`` -> 196 patch tokens, or their salient pool."""
    return build_tiny(PatchTokenizer, TINY_DIM, TINY_SEED, depth=TINY_DEPTH, heads=TINY_HEADS,
                      max_tokens=(224 // TINY_PATCH) ** 2, pool=pool)


def build_tiny_encoder(source: str | None = None) -> FrozenEncoder:
    """The seeded tiny encoder: ``Tensor[N, 3, 224, 224]`` -> ``Tensor[N, 1, 256]``, the 196
    patch tokens' salient pool (see :func:`xalign.encoders.tiny.salient_pool`)."""
    if source is not None:
        raise CheckpointError(f"the tiny image encoder is built from a seed, not {source!r}")
    backbone = build_tiny_backbone()
    return FrozenEncoder(backbone, TINY_DIM, TINY_ID)
