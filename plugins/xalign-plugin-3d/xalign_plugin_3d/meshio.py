"""Reading meshes and point clouds through open3d (.ply, .pcd, .obj, .off).

open3d is imported lazily: NumPy formats work without it. A mesh (a file with
faces) is turned into points by uniform sampling of its surface with a fixed
seed, so the same file always gives the same points.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from xalign.errors import MediaError
from xalign_plugin_3d.headers import HeaderError, check_ply_body, read_off_counts, read_ply_header

MESH_SAMPLES = 10_000  # points drawn from a mesh surface before farthest point sampling
MESH_SEED = 0


def import_open3d(path: Path) -> ModuleType:
    """Import open3d or raise a :class:`MediaError` that says how to fix the environment."""
    try:
        import open3d
    except (ImportError, OSError) as exc:
        if "libusb" in str(exc):
            raise MediaError(
                path,
                f"open3d (needed for {path.suffix} files) cannot load because the system "
                "library libusb-1.0.so.0 is missing; install the Debian/Ubuntu package "
                "libusb-1.0-0 (apt-get install libusb-1.0-0), or convert the file to .npy/.npz",
            ) from exc
        raise MediaError(
            path,
            f"open3d is needed to read {path.suffix} files but cannot be imported "
            f"({type(exc).__name__}: {exc}); install it with: pip install open3d-cpu",
        ) from exc
    return open3d


def read_with_open3d(path: Path) -> np.ndarray:
    """Points ``[N, 3]`` or ``[N, 6]`` (xyz + rgb in [0, 1]) from a mesh or point-cloud file."""
    suffix = path.suffix.lower()
    declared = _declared_counts(path, suffix)  # (vertices, faces) or None
    o3d = import_open3d(path)
    quiet = o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error)
    as_cloud = suffix == ".pcd" or (suffix == ".ply" and declared is not None and declared[1] == 0)
    try:
        with quiet:
            if as_cloud:
                return _points_of(path, o3d.io.read_point_cloud(str(path)), declared)
            mesh = o3d.io.read_triangle_mesh(str(path))
    except MediaError:
        raise
    except Exception as exc:  # open3d raises odd types (UnicodeDecodeError on binary junk)
        raise MediaError(path, f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = np.asarray(mesh.triangles, dtype=np.int64)
    if declared is not None:
        _check_counts(path, declared, len(vertices), len(triangles))
    if len(vertices) == 0:
        raise MediaError(path, f"cannot parse {suffix} file: no vertices were read "
                               "(corrupt file or not a mesh)")
    colors = np.asarray(mesh.vertex_colors, dtype=np.float64) if mesh.has_vertex_colors() else None
    if len(triangles) == 0:  # a vertex-only file is a point cloud
        return _stack(vertices, colors)
    try:
        return sample_surface(vertices, triangles, colors, MESH_SAMPLES, MESH_SEED)
    except ValueError as exc:
        raise MediaError(path, str(exc)) from exc


def _declared_counts(path: Path, suffix: str) -> tuple[int, int] | None:
    try:
        if suffix == ".ply":
            header = read_ply_header(path)
            check_ply_body(path, header)
            return header.count("vertex"), header.count("face")
        if suffix == ".off":
            return read_off_counts(path)
    except HeaderError as exc:
        raise MediaError(path, str(exc)) from exc
    return None


def _check_counts(path: Path, declared: tuple[int, int], vertices: int, faces: int) -> None:
    want_v, want_f = declared
    if vertices != want_v or faces < want_f:
        raise MediaError(path, f"truncated or corrupt file: header declares {want_v} vertices "
                               f"and {want_f} faces, {vertices} and {faces} could be read")


def _points_of(path: Path, cloud: object, declared: tuple[int, int] | None) -> np.ndarray:
    points = np.asarray(cloud.points, dtype=np.float64)
    if declared is not None and len(points) != declared[0]:
        _check_counts(path, declared, len(points), 0)
    if len(points) == 0:
        raise MediaError(path, f"cannot parse {path.suffix} file: no points were read "
                               "(corrupt file or wrong format)")
    colors = np.asarray(cloud.colors, dtype=np.float64) if cloud.has_colors() else None
    return _stack(points, colors)


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
