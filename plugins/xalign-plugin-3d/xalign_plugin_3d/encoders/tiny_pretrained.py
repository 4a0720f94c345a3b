"""The pretrained tiny 3D encoder: voxel point groups -> 2 Transformer layers -> 8 tokens.

A cloud ``[N, 8192, 3]`` (the plugin's :func:`~xalign_plugin_3d.preprocess.preprocess` output,
in the unit sphere) is grouped into the 4 × 4 × 4 cells of the cube around it; each point is
embedded from its offset to its cell centre and its absolute position by a shared MLP, each cell
max-pools its points (a mini-PointNet, as PointBERT's groups) and adds how full it is. A small
Transformer (128 channels) over the 64 cell tokens and an attention pool of 8 learned queries give
``[N, 8, 256]``. The weights come from the generic contrastive pretraining
(:mod:`xalign.encoders.pretrain`, ``xalign encoders pretrain --modality 3d``) and ship in
``weights/tiny-pretrained`` with their model card.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from xalign.encoders import FrozenEncoder
from xalign.encoders.pretrain import PretrainConfig, PretrainSpec
from xalign.encoders.tiny_pretrained import TokenEncoder, build_frozen
from xalign_plugin_3d.preprocess import preprocess
from xalign_plugin_3d.synthetic import synthesize

FEATURE_DIM = 256
TOKENS_PER_FRAME = 8
GRID = 4
WIDTH = 128  # inside the network; the attention pool maps to FEATURE_DIM
POINT_STRIDE = 4  # every 4th point: 2,048 of 8,192 (FPS order or file order keeps coverage)
ENCODER_ID = "xalign-3d-tiny-pretrained-2"
WEIGHTS_DIR = Path(__file__).parent / "weights" / "tiny-pretrained"


class VoxelGroups(nn.Module):
    """``[N, P, 3]`` in the unit sphere -> ``[N, GRID³, width]``, one token per grid cell."""

    def __init__(self, width: int = WIDTH, grid: int = GRID, hidden: int = 32) -> None:
        super().__init__()
        self.grid = grid
        self.point_mlp = nn.Sequential(nn.Linear(6, hidden), nn.GELU(),
                                       nn.Linear(hidden, 2 * hidden), nn.GELU())
        self.lift = nn.Linear(2 * hidden + 1, width)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        points = points[:, ::POINT_STRIDE]
        n, p, _ = points.shape
        g, cells = self.grid, self.grid ** 3
        cell = ((points + 1) * (g / 2)).floor().clamp(0, g - 1)
        local = (points - ((cell + 0.5) * (2 / g) - 1)) * g  # about [-1, 1] inside the cell
        features = self.point_mlp(torch.cat([local, points], dim=-1))  # [N, P, C]
        flat = (cell[..., 0] * g * g + cell[..., 1] * g + cell[..., 2]).long()
        index = (flat + torch.arange(n, device=points.device)[:, None] * cells).reshape(-1)
        pooled = features.new_zeros(n * cells, features.shape[-1]).scatter_reduce(
            0, index[:, None].expand(-1, features.shape[-1]), features.reshape(n * p, -1),
            reduce="amax", include_self=False)  # empty cells stay 0
        counts = torch.bincount(index, minlength=n * cells).to(points.dtype)
        density = torch.log1p(counts * (cells / p))[:, None]
        return self.lift(torch.cat([pooled, density], dim=1)).view(n, cells, -1)


def build_architecture() -> TokenEncoder:
    """The untrained network (what pretraining starts from)."""
    return TokenEncoder(VoxelGroups(), WIDTH, GRID ** 3, TOKENS_PER_FRAME, dim=FEATURE_DIM)


def build_pretrained_tiny_encoder(source: str | Path | None = None) -> FrozenEncoder:
    """``Tensor[N, 8192, 3]`` -> ``Tensor[N, 8, 256]``; ``source``: a folder with
    ``model.safetensors`` (default: the shipped weights)."""
    return build_frozen(build_architecture, source or WEIGHTS_DIR, ENCODER_ID)


PRETRAIN = PretrainSpec(
    modality="3d", encoder_id=ENCODER_ID, synthesize=synthesize, preprocess=preprocess,
    build=build_architecture, weights_dir=WEIGHTS_DIR,
    config=PretrainConfig(steps=1200, batch_size=32, lr=1e-3),
)
