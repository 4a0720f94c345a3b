"""``load(path)``: a 3D file -> points ``np.ndarray [N, C]`` (float32, xyz first, C >= 3).

Columns after the third (colour, normals) are kept here and dropped by
``preprocess``, so a loaded item keeps what the file holds. Meshes and point
clouds (.ply, .pcd, .obj, .off) go through open3d; NumPy arrays (.npy, .npz:
key ``points``/``xyz``/``pc``/``coords``, else the first array; Cap3D and ULIP
files ``<id>_8192.npz`` hold ``arr_0``) and text (.xyz, .txt: one point per
line, spaces or commas) through NumPy alone. Every failure is a
:class:`MediaError` naming the file and the reason.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from xalign.errors import MediaError
from xalign.media import check_file
from xalign_plugin_3d.meshio import read_with_open3d

EXTENSIONS = (".ply", ".pcd", ".obj", ".off", ".npy", ".npz", ".xyz", ".txt")
MIN_POINTS = 3
NPZ_KEYS = ("points", "xyz", "pc", "coords")
_MAGIC = {b"ply": ".ply", b"\x93NUMPY": ".npy", b"PK\x03\x04": ".npz"}
_TEXT_SUFFIXES = (".obj", ".xyz", ".txt")


def load(path: str | Path) -> np.ndarray:
    """Read a point cloud or mesh file; see the module docstring for the formats."""
    path = check_file(path, EXTENSIONS)
    suffix = path.suffix.lower()
    _check_content_matches(path, suffix)
    if suffix == ".npy":
        points = _read_npy(path)
    elif suffix == ".npz":
        points = _read_npz(path)
    elif suffix in (".xyz", ".txt"):
        points = _read_text(path)
    else:
        points = read_with_open3d(path)
    return validate_points(points, path)


def validate_points(points: object, path: str | Path | None = None) -> np.ndarray:
    """Check a raw item (``[N, C]``, C >= 3, finite xyz, >= 3 points, not all equal).

    Returns it as a float32 array; raises :class:`MediaError` otherwise.
    """
    array = np.asarray(points)
    if array.dtype.kind not in "fiu":
        raise MediaError(path, f"point array has dtype {array.dtype}; expected numbers")
    if array.ndim != 2 or array.shape[1] < 3:
        raise MediaError(path, f"point array has shape {array.shape}; expected [N, 3] "
                               "or [N, >3] with extra channels (colour) after xyz")
    if len(array) < MIN_POINTS:
        raise MediaError(path, f"only {len(array)} point(s); at least {MIN_POINTS} are needed")
    # checked in float32, the precision the points are kept in from here on
    with np.errstate(over="ignore"):
        points32 = array.astype(np.float32, copy=False)
    xyz = points32[:, :3]
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        raise MediaError(path, f"{int(bad.sum())} of {len(xyz)} points have NaN or infinite "
                               "coordinates (or coordinates beyond float32 range)")
    if np.ptp(xyz, axis=0).max() == 0.0:
        raise MediaError(path, "degenerate point cloud: all points are identical, so it "
                               "cannot be scaled into the unit sphere")
    return points32


def _check_content_matches(path: Path, suffix: str) -> None:
    """Catch a file whose bytes belong to another format than its extension says."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    for magic, real in _MAGIC.items():
        if head.startswith(magic) and real != suffix:
            raise MediaError(path, f"content is a {real} file but the extension is {suffix}; "
                                   f"rename it to {real}")
    if suffix in _TEXT_SUFFIXES and b"\x00" in head:
        raise MediaError(path, f"binary content in a {suffix} file, which must be text")


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise MediaError(path, f"not a valid .npy array (truncated or corrupt): {exc}") from exc


def _read_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not archive.files:
                raise MediaError(path, ".npz archive holds no arrays")
            key = next((k for k in NPZ_KEYS if k in archive.files), archive.files[0])
            points = archive[key]
            rgb = [archive[c] for c in ("R", "G", "B") if c in archive.files]
    except MediaError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise MediaError(path, f"not a valid .npz archive (truncated or corrupt): {exc}") from exc
    if key == "coords" and len(rgb) == 3 and all(c.shape == points.shape[:1] for c in rgb):
        # point-e style archives store colour as separate R, G, B channels
        points = np.concatenate([points, np.stack(rgb, axis=1)], axis=1)
    return points


def _read_text(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8").replace(",", " ")
        return np.loadtxt(io.StringIO(text), comments="#", ndmin=2, dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MediaError(path, f"cannot parse points (expected one 'x y z [r g b]' row per "
                               f"line): {exc}") from exc
