"""``load(path)``: a 3D file -> points ``np.ndarray [N, C]`` (float32, xyz first, C >= 3).

Columns after the third (colour, normals) are kept here and dropped by
``preprocess``, so a loaded item keeps what the file holds. .obj goes through
open3d; .ply, .off and .pcd (:mod:`.plyio`, :mod:`.offio`, :mod:`.pcdio`), NumPy
arrays (.npy, .npz: key ``points``/``xyz``/``pc``/``coords``, else the first array;
Cap3D and ULIP files ``<id>_8192.npz`` hold ``arr_0``) and text (.xyz, .txt: one
point per line, spaces or commas) through NumPy alone. Every failure is a
:class:`MediaError` naming the file and the reason.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npformat

from xalign.errors import MediaError
from xalign.media import check_file
from xalign_plugin_3d.meshio import import_open3d, read_mesh_file

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
        points = read_mesh_file(path)
    return validate_points(points, path)


def check_environment() -> None:
    """Raise :class:`~xalign.errors.EnvironmentFault` when open3d (a declared dependency,
    needed for .obj) cannot load, e.g. without the system's libusb-1.0."""
    import_open3d()


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


# a deflated zip member cannot expand more than this (deflate's ceiling is about 1032:1)
_MAX_DEFLATE_RATIO = 1100


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        _checked_npy_header(path, fh, path.stat().st_size)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy's header parser raises many types (TokenError, …)
        raise MediaError(path, f"not a valid .npy array (truncated or corrupt): "
                               f"{type(exc).__name__}: {exc}") from exc


def _checked_npy_header(path: Path, fh: IO[bytes], size: int, member: str = "") -> None:
    """Refuse a .npy header that does not parse or declares more data than there is
    (numpy would allocate the declared array first: a lying header is a memory bomb)."""
    where = f" (member {member!r})" if member else ""
    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = npformat.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        start = fh.tell()
    except Exception as exc:  # ValueError, SyntaxError, tokenize.TokenError, EOFError…
        raise MediaError(path, f"not a valid .npy array{where}: bad header "
                               f"({type(exc).__name__}: {exc})") from exc
    if dtype.hasobject:
        raise MediaError(path, f"the array{where} holds Python objects, which are not loaded")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > size - start:
        raise MediaError(path, f"truncated or corrupt .npy{where}: the header declares "
                               f"{shape} {dtype} ({declared:,} bytes) but "
                               f"{max(size - start, 0):,} bytes follow it")


def _read_npz(path: Path) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as archive:
            members = {n[:-4]: archive.getinfo(n) for n in archive.namelist()
                       if n.endswith(".npy")}
            if not members:
                raise MediaError(path, ".npz archive holds no arrays")
            key = next((k for k in NPZ_KEYS if k in members), next(iter(members)))
            wanted = [key] + [c for c in ("R", "G", "B") if c in members and key == "coords"]
            for name in wanted:
                info = members[name]
                if (info.compress_type == zipfile.ZIP_STORED
                        and info.file_size > info.compress_size) or \
                        info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1):
                    raise MediaError(path, f"corrupt .npz: member {info.filename!r} declares "
                                           f"{info.file_size:,} bytes from "
                                           f"{info.compress_size:,} stored")
                with archive.open(info) as fh:
                    _checked_npy_header(path, fh, info.file_size, member=info.filename)
        with np.load(path, allow_pickle=False) as archive:
            points = archive[key]
            rgb = [archive[c] for c in wanted[1:]]
    except MediaError:
        raise
    except Exception as exc:  # zipfile, zlib and numpy raise many types on corrupt archives
        raise MediaError(path, f"not a valid .npz archive (truncated or corrupt): "
                               f"{type(exc).__name__}: {exc}") from exc
    if len(rgb) == 3 and all(c.shape == points.shape[:1] for c in rgb):
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
