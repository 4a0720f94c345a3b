"""``preprocess(raw, train)`` -> ``Tensor[1, 8192, 3]`` as DESIGN §2 describes for 3D.

1. drop every channel after xyz (the ULIP-2 PointBERT sees no colour);
2. centre and scale into the unit sphere (FPS is invariant to this; float32
   distances are then well conditioned whatever the file's units);
3. more than 8,192 points: farthest point sampling. The first point is the one
   farthest from the centroid at eval time (deterministic and independent of the
   order of the points in the file), a random one at train time;
   8,192 or fewer: all points are kept in file order;
4. centre and scale the kept points into the unit sphere again, so that the
   output is exactly centred with its farthest point at radius 1;
5. fewer than 8,192: pad by cycling through the points again.

Invalid input (NaN/inf, fewer than 3 points, all points identical) raises
:class:`MediaError`: a degenerate cloud is never divided by zero.
"""

from __future__ import annotations

import numpy as np
import torch

from xalign_plugin_3d.geometry import farthest_point_sample, normalize_unit_sphere
from xalign_plugin_3d.loading import validate_points

NUM_POINTS = 8192


def preprocess(raw: object, train: bool = False) -> torch.Tensor:
    """Encoder input ``Tensor[1, NUM_POINTS, 3]`` (float32) for one point cloud ``[N, C]``."""
    if isinstance(raw, torch.Tensor):
        raw = raw.detach().cpu().numpy()
    xyz = validate_points(raw)[:, :3].astype(np.float64)
    xyz, _ = normalize_unit_sphere(xyz)
    if len(xyz) > NUM_POINTS:
        # train: random start (seeded by the training engine); eval: farthest from the centroid
        start = (int(torch.randint(len(xyz), ())) if train
                 else int((xyz * xyz).sum(axis=1).argmax()))
        xyz = xyz[farthest_point_sample(xyz, NUM_POINTS, start)]
    xyz, _ = normalize_unit_sphere(xyz)
    if len(xyz) < NUM_POINTS:
        xyz = xyz[np.arange(NUM_POINTS) % len(xyz)]
    return torch.from_numpy(xyz.astype(np.float32))[None]
