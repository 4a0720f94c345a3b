"""Reading meshes and point clouds: .ply, .off and .pcd in NumPy, .obj through open3d.

PLY, OFF and PCD are read by :mod:`.plyio`, :mod:`.offio` and :mod:`.pcdio`:
open3d's readers for them crash the process (PLY, OFF) or return made-up or no
points (PCD) on some corrupt files. open3d is imported lazily: every other format
works without it. A mesh (a file
with faces) is turned into points by uniform sampling of its surface with a
fixed seed, so the same file always gives the same points.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from xalign.errors import MediaError
from xalign.media import import_dependency
from xalign_plugin_3d.headers import HeaderError
from xalign_plugin_3d.offio import read_off
from xalign_plugin_3d.pcdio import read_pcd
from xalign_plugin_3d.plyio import read_ply

MESH_SAMPLES = 10_000  # points drawn from a mesh surface before farthest point sampling
MESH_SEED = 0
SYSTEM_PACKAGES = {"libusb-1.0": "libusb-1.0-0"}  # shared library -> Debian package


def import_open3d() -> ModuleType:
    """Import open3d or raise :class:`~xalign.errors.EnvironmentFault` naming the fix.

    A missing ``libusb-1.0.so.0`` (open3d-cpu links it) is a fault of the machine,
    never of the file, so it is not a :class:`MediaError`.
    """
    return import_dependency(
        "open3d", needed_for=".obj files; the other 3D formats need no open3d",
        pip="open3d-cpu", system_packages=SYSTEM_PACKAGES)


def read_mesh_file(path: Path) -> np.ndarray:
    """Points ``[N, 3]`` or ``[N, 6]`` (xyz + rgb in [0, 1]) from a mesh or point-cloud file."""
    suffix = path.suffix.lower()
    if suffix in (".ply", ".off"):
        try:
            vertices, colors, triangles = (read_ply if suffix == ".ply" else read_off)(path)
        except (HeaderError, ValueError) as exc:
            raise MediaError(path, str(exc)) from exc
        return _points_from(path, vertices, colors, triangles)
    if suffix == ".pcd":
        try:
            points, colors = read_pcd(path)
        except ValueError as exc:
            raise MediaError(path, str(exc)) from exc
        return _points_from(path, points, colors, np.zeros((0, 3), dtype=np.int64))
    o3d = import_open3d()  # first: a broken machine is reported before any file fault
    quiet = o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error)
    try:
        with quiet:
            mesh = o3d.io.read_triangle_mesh(str(path))
    except MediaError:
        raise
    except Exception as exc:  # open3d raises odd types (UnicodeDecodeError on binary junk)
        raise MediaError(path, f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = np.asarray(mesh.triangles, dtype=np.int64)
    colors = np.asarray(mesh.vertex_colors, dtype=np.float64) if mesh.has_vertex_colors() else None
    return _points_from(path, vertices, colors, triangles)


def _points_from(path: Path, vertices: np.ndarray, colors: np.ndarray | None,
                 triangles: np.ndarray) -> np.ndarray:
    if len(vertices) == 0:
        raise MediaError(path, f"cannot parse {path.suffix} file: no points or vertices were "
                               "read (corrupt file or not a mesh or point cloud)")
    if len(triangles) == 0:  # a vertex-only file is a point cloud
        return _stack(vertices, colors)
    try:
        return sample_surface(vertices, triangles, colors, MESH_SAMPLES, MESH_SEED)
    except ValueError as exc:
        raise MediaError(path, str(exc)) from exc


def _stack(points: np.ndarray, colors: np.ndarray | None) -> np.ndarray:
    if colors is not None and len(colors) == len(points):
        return np.concatenate([points, colors], axis=1).astype(np.float32)
    return points.astype(np.float32)


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, colors: np.ndarray | None,
                   n: int, seed: int) -> np.ndarray:
    """``n`` points uniformly distributed over a triangle mesh's area (colours interpolated)."""
    if triangles.min() < 0 or triangles.max() >= len(vertices):
        raise ValueError(f"faces refer to vertices outside 0..{len(vertices) - 1}")
    corners = vertices[triangles]  # [F, 3 corners, 3]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = 0.5 * np.sqrt((cross * cross).sum(axis=1))
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("mesh has no surface area (all faces are degenerate)")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(triangles), size=n, p=areas / total)
    # uniform barycentric coordinates: reflect (u, v) into the lower triangle
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    weights = np.stack([1 - u - v, u, v], axis=1)[:, :, None]  # [n, 3, 1]
    points = (corners[face] * weights).sum(axis=1)
    if colors is None or len(colors) != len(vertices):
        return points.astype(np.float32)
    rgb = (colors[triangles][face] * weights).sum(axis=1)
    return np.concatenate([points, rgb], axis=1).astype(np.float32)
