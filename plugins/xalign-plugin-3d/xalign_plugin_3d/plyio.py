"""A strict PLY reader in NumPy (ascii, binary little and big endian).

open3d's PLY reader (RPly) crashes the process with a segmentation fault on
some corrupt files (found by ``tests/test_fuzz_loaders.py``: a repeated header
block, bytes inserted in the face list), which no ``try`` can catch. This reader
walks every element the header declares, checks each length against the bytes
or tokens that remain before allocating anything, and raises :class:`ValueError`
with the reason; the loader turns that into a ``MediaError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xalign_plugin_3d.headers import PlyElement, PlyHeader, read_ply_header

_DTYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_FACE_LISTS = ("vertex_indices", "vertex_index")
# element -> property -> values: [count] for a scalar, a list of [n] arrays for a list
Tables = dict[str, dict[str, object]]


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(vertices [N, 3] float64, colours [N, 3] in [0, 1] or None, triangles [F, 3] int64)``.

    Polygons are split into triangles (a fan from their first corner). Raises
    :class:`ValueError` (or :class:`~xalign_plugin_3d.headers.HeaderError`) for a
    malformed header, a body shorter than declared, or a face of fewer than 3 corners.
    """
    header = read_ply_header(path)
    body = path.read_bytes()[header.header_bytes:]
    tables = _read_ascii(header, body) if header.format == "ascii" else _read_binary(header, body)
    vertex = tables.get("vertex", {})
    missing = [axis for axis in "xyz" if axis not in vertex]
    if header.count("vertex") and missing:
        raise ValueError(f"PLY vertices have no {', '.join(missing)} property")
    if not header.count("vertex"):
        return np.zeros((0, 3)), None, np.zeros((0, 3), dtype=np.int64)
    vertices = np.stack([np.asarray(vertex[a], dtype=np.float64) for a in "xyz"], axis=1)
    colors = _colours(vertex)
    face = tables.get("face", {})
    polygons = next((face[k] for k in _FACE_LISTS if k in face), [])
    return vertices, colors, _triangles(polygons)


def _colours(vertex: dict[str, object]) -> np.ndarray | None:
    if not all(c in vertex for c in ("red", "green", "blue")):
        return None
    channels = []
    for name in ("red", "green", "blue"):
        values = np.asarray(vertex[name])
        scale = np.iinfo(values.dtype).max if values.dtype.kind in "iu" else 1.0
        channels.append(values.astype(np.float64) / scale)
    return np.stack(channels, axis=1)


def _triangles(polygons: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Fan triangulation of each polygon; ``polygons`` may be one ``[F, n]`` array."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 2 and polygons.shape[1] >= 3:
        fan = np.arange(1, polygons.shape[1] - 1)
        corners = [np.broadcast_to(polygons[:, :1], (len(polygons), len(fan))),
                   polygons[:, fan], polygons[:, fan + 1]]
        return np.stack(corners, axis=2).reshape(-1, 3).astype(np.int64)
    triangles = []
    for index, polygon in enumerate(polygons):
        if len(polygon) < 3:
            raise ValueError(f"PLY face {index} has {len(polygon)} corner(s); at least 3 needed")
        fan = np.arange(1, len(polygon) - 1)
        triangles.append(np.stack([np.repeat(polygon[0], len(fan)), polygon[fan],
                                   polygon[fan + 1]], axis=1))
    if not triangles:
        return np.zeros((0, 3), dtype=np.int64)
    return np.concatenate(triangles).astype(np.int64)


def _read_binary(header: PlyHeader, body: bytes) -> Tables:
    order = "<" if header.format == "binary_little_endian" else ">"
    tables: Tables = {}
    offset = 0
    for element in header.elements:
        remaining = len(body) - offset
        if element.count * element.min_row_bytes() > remaining:
            raise ValueError(f"truncated PLY: {element.count} {element.name} rows need at "
                             f"least {element.count * element.min_row_bytes():,} bytes, "
                             f"{remaining:,} remain")
        if not any(p.count_type for p in element.properties):
            dtype = np.dtype([(f"p{i}", order + _DTYPES[p.type])
                              for i, p in enumerate(element.properties)])
            rows = np.frombuffer(body, dtype, element.count, offset)
            offset += element.count * dtype.itemsize
            tables[element.name] = {p.name: rows[f"p{i}"]
                                    for i, p in enumerate(element.properties)}
        else:
            uniform = _uniform_list(element, body, offset, order)
            if uniform is not None:
                tables[element.name] = {element.properties[0].name: uniform}
                offset += uniform.nbytes + element.count * np.dtype(
                    _DTYPES[element.properties[0].count_type or ""]).itemsize
            else:
                tables[element.name], offset = _binary_rows(element, body, offset, order)
    return tables


def _uniform_list(element: PlyElement, body: bytes, offset: int,
                  order: str) -> np.ndarray | None:
    """The common face block in one read: a single list property whose rows all have the
    first row's length (``[count, n]``); ``None`` when that does not hold."""
    if len(element.properties) != 1 or not element.count:
        return None
    prop = element.properties[0]
    count_dtype = np.dtype(order + _DTYPES[prop.count_type or ""])
    n = _scalar(body, offset, count_dtype.str, element, 0)
    if n < 1:
        return None
    row = np.dtype([("n", count_dtype), ("items", order + _DTYPES[prop.type], (int(n),))])
    if element.count * row.itemsize > len(body) - offset:
        return None
    rows = np.frombuffer(body, row, element.count, offset)
    return rows["items"] if bool((rows["n"] == n).all()) else None


def _binary_rows(element: PlyElement, body: bytes, offset: int,
                 order: str) -> tuple[dict[str, object], int]:
    """Rows of an element with list properties, one at a time (each length is checked)."""
    columns: dict[str, list] = {p.name: [] for p in element.properties}
    for row in range(element.count):
        for prop in element.properties:
            if prop.count_type:
                n = _scalar(body, offset, order + _DTYPES[prop.count_type], element, row)
                offset += np.dtype(_DTYPES[prop.count_type]).itemsize
                item = np.dtype(order + _DTYPES[prop.type])
                if n < 0 or offset + n * item.itemsize > len(body):
                    raise ValueError(f"truncated or corrupt PLY: {element.name} {row} declares "
                                     f"a list of {n} items past the end of the file")
                columns[prop.name].append(np.frombuffer(body, item, int(n), offset))
                offset += int(n) * item.itemsize
            else:
                dtype = order + _DTYPES[prop.type]
                columns[prop.name].append(_scalar(body, offset, dtype, element, row))
                offset += np.dtype(dtype).itemsize
    return columns, offset


def _scalar(body: bytes, offset: int, dtype: str, element: PlyElement, row: int) -> int | float:
    if offset + np.dtype(dtype).itemsize > len(body):
        raise ValueError(f"truncated PLY: the file ends inside {element.name} {row}")
    return np.frombuffer(body, dtype, 1, offset)[0].item()


def _read_ascii(header: PlyHeader, body: bytes) -> Tables:
    tokens = body.split()
    tables: Tables = {}
    at = 0
    for element in header.elements:
        width = len(element.properties)
        if element.count * width > len(tokens) - at:
            raise ValueError(f"truncated PLY: {element.count} {element.name} rows need at "
                             f"least {element.count * width:,} values, "
                             f"{len(tokens) - at:,} remain")
        if not any(p.count_type for p in element.properties):
            values = _numbers(tokens[at:at + element.count * width], element)
            values = values.reshape(element.count, width)
            at += element.count * width
            tables[element.name] = {p.name: values[:, i].astype(_DTYPES[p.type])
                                    for i, p in enumerate(element.properties)}
            continue
        columns: dict[str, list] = {p.name: [] for p in element.properties}
        for row in range(element.count):
            for prop in element.properties:
                if at >= len(tokens):
                    raise ValueError(f"truncated PLY: the file ends inside {element.name} {row}")
                value = _numbers(tokens[at:at + 1], element)[0]
                at += 1
                if not prop.count_type:
                    columns[prop.name].append(value)
                    continue
                if not np.isfinite(value) or value != int(value) or value < 0 \
                        or at + int(value) > len(tokens):
                    raise ValueError(f"truncated or corrupt PLY: {element.name} {row} declares "
                                     f"a list of {value:g} items")
                columns[prop.name].append(
                    _numbers(tokens[at:at + int(value)], element).astype(_DTYPES[prop.type]))
                at += int(value)
        tables[element.name] = columns
    return tables


def _numbers(tokens: list[bytes], element: PlyElement) -> np.ndarray:
    try:
        return np.array(tokens, dtype="S").astype(np.float64)
    except ValueError as exc:
        raise ValueError(f"corrupt PLY: a {element.name} value is not a number ({exc})") from None
