"""A strict reader for ASCII OFF meshes (OFF, COFF, NOFF, CNOFF) in NumPy.

open3d's OFF reader crashes the process with a segmentation fault on some
corrupt files (found by ``tests/test_fuzz_loaders.py``: another file spliced
into the vertex block), and it silently drops faces from a truncated file. This
reader checks the declared counts against the lines there are before reading
them and raises :class:`ValueError` with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_VARIANTS = {"OFF": (False, False), "COFF": (True, False), "NOFF": (False, True),
             "CNOFF": (True, True), "NCOFF": (True, True)}  # keyword -> (colours, normals)


def read_off(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(vertices [N, 3] float64, colours [N, 3] in [0, 1] or None, triangles [F, 3] int64)``.

    Colours given as 0–255 integers are scaled to [0, 1]; polygons are split into
    triangles (a fan from their first corner).
    """
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("not an OFF file (binary content; only ASCII OFF is read)") from None
    lines = [ln.split("#", 1)[0].split() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    keyword = lines[0][0] if lines else ""
    if not keyword.endswith("OFF"):
        raise ValueError("not an OFF file (the first line is not 'OFF')")
    if keyword not in _VARIANTS or (len(lines[0]) > 1 and lines[0][1].upper() == "BINARY"):
        raise ValueError(f"unsupported OFF variant {' '.join(lines[0][:2])!r}; "
                         "supported: OFF, COFF, NOFF, CNOFF (ASCII); convert the file to .ply")
    has_colour, has_normal = _VARIANTS[keyword]
    start, counts = (1, lines[0][1:]) if len(lines[0]) > 1 else (2, lines[1] if len(lines) > 1
                                                                  else [])
    try:
        n_vertices, n_faces = int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        raise ValueError("OFF header has no 'vertices faces edges' counts") from None
    if n_vertices < 0 or n_faces < 0:
        raise ValueError(f"OFF header declares negative counts ({n_vertices}, {n_faces})")
    body = lines[start:]
    if len(body) < n_vertices + n_faces:
        raise ValueError(f"truncated OFF: the header declares {n_vertices} vertices and "
                         f"{n_faces} faces, the file has {len(body)} rows after it")
    vertices, colours = _vertices(body[:n_vertices], has_colour, has_normal)
    return vertices, colours, _faces(body[n_vertices:n_vertices + n_faces])


def _vertices(rows: list[list[str]], has_colour: bool,
              has_normal: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if not rows:
        return np.zeros((0, 3)), None
    widths = {len(row) for row in rows}
    need = 3 + 3 * has_normal + 3 * has_colour
    if len(widths) != 1 or min(widths) < need:
        raise ValueError(f"corrupt OFF: vertex rows have {sorted(widths)} values; "
                         f"{need} or more expected")
    values = _floats([token for row in rows for token in row]).reshape(len(rows), -1)
    xyz = values[:, :3]
    if not has_colour:
        return xyz, None
    first = 6 if has_normal else 3
    rgb = values[:, first:first + 3]
    return xyz, rgb / 255.0 if np.nanmax(np.abs(rgb)) > 1.0 else rgb


def _faces(rows: list[list[str]]) -> np.ndarray:
    triangles = []
    for index, row in enumerate(rows):
        values = _floats(row)
        n = values[0]
        if n != int(n) or n < 3 or len(values) < 1 + n:
            raise ValueError(f"corrupt OFF: face {index} is {' '.join(row[:8])!r} (a corner "
                             "count of at least 3, then that many vertex indices)")
        corners = values[1:1 + int(n)]
        if (corners != np.floor(corners)).any():
            raise ValueError(f"corrupt OFF: face {index} has a vertex index that is not an "
                             "integer")
        corners = corners.astype(np.int64)
        fan = np.arange(1, len(corners) - 1)
        triangles.append(np.stack([np.repeat(corners[0], len(fan)), corners[fan],
                                   corners[fan + 1]], axis=1))
    return np.concatenate(triangles) if triangles else np.zeros((0, 3), dtype=np.int64)


def _floats(tokens: list[str]) -> np.ndarray:
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"corrupt OFF: a value is not a number ({exc})") from None
    if not np.isfinite(values).all():
        raise ValueError("corrupt OFF: NaN or infinite values")
    return values
