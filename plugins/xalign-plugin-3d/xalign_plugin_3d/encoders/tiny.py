"""The built-in tiny 3D encoder: voxel-grid grouping + mini-PointNet + 2 transformer layers.

Grouping without FPS or kNN: the unit cube around the normalised cloud is cut
into 4 x 4 x 4 cells and every point joins the cell it falls in (one integer
division). Each point is embedded from its offset to its cell centre and its
absolute position by a small shared MLP, the cell max-pools its points (a
mini-PointNet), and a density term says how full the cell is. The 64 cell
tokens keep where the surface is and how it is shaped locally, so shape,
size-relative-to-the-base and aspect stay linearly readable from random
(seeded, untrained) weights (a linear probe on 150 synthetic items reads shape
at ~0.85, size ~1.0, aspect ~0.95; 5x5x5 cells did worse on shape, ~0.6).
Their salient pool (:func:`xalign.encoders.tiny.salient_pool`) keeps size and aspect but
little of the shape (a projector trained through the LLM on it alone reached 48% on five
shapes), so the encoder adds a local-geometry token (:class:`LocalGeometry`): a classical,
non-learned shape descriptor, the joint histogram of how each point's local surface is
oriented and how curved it is. The output is ``[N, 2, 256]``.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.encoders.tiny import ConcatTokens, build_tiny, seeded
from xalign.errors import CheckpointError

TINY_DIM = 256
TINY_SEED = 3_141
TINY_ID = "xalign-3d-tiny-3"  # the id projectors saved before encoders were registered
GRID = 4
POINT_HIDDEN, POINT_DIM = 32, 64  # per point: kept small, it runs 8,192 times per item
NEIGHBOURS = 16  # points per local surface patch
GEOMETRY_STRIDE = 8  # local geometry at every 8th point: 1,024 of 8,192 (cdist is quadratic)
ORIENTATION_BINS, CURVATURE_BINS = 8, 6


class VoxelTokenizer(nn.Module):
    """``points [N, P, 3]`` in the unit sphere -> one token per grid cell ``[N, GRID³, dim]``."""

    def __init__(self, dim: int = TINY_DIM, grid: int = GRID) -> None:
        super().__init__()
        self.grid = grid
        self.point_mlp = nn.Sequential(
            nn.Linear(6, POINT_HIDDEN), nn.ReLU(), nn.Linear(POINT_HIDDEN, POINT_DIM), nn.ReLU()
        )
        self.lift = nn.Linear(POINT_DIM, dim)  # per cell, after pooling: cheap
        self.density = nn.Linear(1, dim)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        n, p, _ = points.shape
        g, cells = self.grid, self.grid ** 3
        cell = ((points + 1) * (g / 2)).floor().clamp(0, g - 1)  # [N, P, 3]
        centre = (cell + 0.5) * (2 / g) - 1
        local = (points - centre) * g  # about [-1, 1] inside the cell
        features = self.point_mlp(torch.cat([local, points], dim=-1))  # [N, P, C]
        flat = (cell[..., 0] * g * g + cell[..., 1] * g + cell[..., 2]).long()
        index = (flat + torch.arange(n, device=points.device)[:, None] * cells).reshape(-1)
        pooled = features.new_zeros(n * cells, features.shape[-1]).scatter_reduce(
            0, index[:, None].expand(-1, features.shape[-1]), features.reshape(n * p, -1),
            reduce="amax", include_self=False,
        )  # empty cells stay 0
        counts = torch.bincount(index, minlength=n * cells).to(points.dtype)
        density = torch.log1p(counts * (cells / p))[:, None]
        tokens = self.lift(pooled) + self.density(density)
        return tokens.reshape(n, cells, -1)


def _bin(values: torch.Tensor, top: float, bins: int) -> torch.Tensor:
    return (values / top * bins).long().clamp(0, bins - 1)


def geometry_histogram(points: torch.Tensor) -> torch.Tensor:
    """``[P, 3]`` -> ``[ORIENTATION_BINS · CURVATURE_BINS]`` (sums to 1).

    For every :data:`GEOMETRY_STRIDE`-th point, PCA of its :data:`NEIGHBOURS` nearest
    neighbours gives the surface normal (least-variance axis) and the surface variation
    λ_min / Σλ (0 on a plane, 1/3 where the patch is isotropic: edges, tight curves).
    The histogram counts points by |normal · up| and surface variation: a cube is flat
    patches facing up or sideways, a cone's side faces diagonally, a sphere every way.
    Both are invariant to scale and to turning about the vertical axis.
    """
    sample = points[::GEOMETRY_STRIDE].float()
    neighbours = min(NEIGHBOURS, len(sample))
    with torch.autocast(points.device.type, enabled=False):  # eigh has no half precision
        nearest = torch.cdist(sample, sample).topk(neighbours, largest=False).indices
        patches = sample[nearest]
        patches = patches - patches.mean(dim=1, keepdim=True)
        covariance = patches.transpose(1, 2) @ patches / neighbours
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    facing_up = eigenvectors[:, 1, 0].abs()  # y component of the normal (y is up)
    variation = eigenvalues[:, 0] / eigenvalues.sum(dim=1).clamp(min=1e-12)
    cell = (_bin(facing_up, 1.0, ORIENTATION_BINS) * CURVATURE_BINS
            + _bin(variation, 1 / 3, CURVATURE_BINS))
    counts = torch.bincount(cell, minlength=ORIENTATION_BINS * CURVATURE_BINS)
    return counts.float() / len(sample)


class LocalGeometry(nn.Module):
    """``points [N, P, 3]`` -> ``[N, 1, dim]``: :func:`geometry_histogram` through a fixed
    random linear map and a LayerNorm (so its scale matches the transformer's tokens)."""

    def __init__(self, dim: int = TINY_DIM) -> None:
        super().__init__()
        self.lift = nn.Linear(ORIENTATION_BINS * CURVATURE_BINS, dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        histograms = torch.stack([geometry_histogram(cloud) for cloud in points])
        return self.norm(self.lift(histograms))[:, None]


def build_tiny_encoder(source: str | None = None) -> FrozenEncoder:
    """The seeded tiny encoder (identical weights on every machine): ``[N, 2, 256]``, the 64
    cell tokens' salient pool (see :func:`xalign.encoders.tiny.salient_pool`) and the
    local-geometry token (:class:`LocalGeometry`)."""
    if source is not None:
        raise CheckpointError(f"the tiny 3D encoder is built from a seed, not {source!r}")
    cells = build_tiny(lambda: VoxelTokenizer(TINY_DIM, GRID), TINY_DIM, TINY_SEED,
                       depth=2, heads=4, max_tokens=GRID ** 3, pool=True)
    with seeded(TINY_SEED + 1):
        geometry = LocalGeometry(TINY_DIM)
    return FrozenEncoder(ConcatTokens(cells=cells, geometry=geometry), TINY_DIM, TINY_ID)
