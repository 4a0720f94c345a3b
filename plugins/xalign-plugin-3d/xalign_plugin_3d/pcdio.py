"""A strict PCD reader (ascii, binary, binary_compressed) in NumPy.

open3d's PCD reader returns all the declared points from an ASCII file cut in
half (the missing ones made up) and an empty cloud from a cut binary file, with
only a printed warning (found by ``tests/test_fuzz_loaders.py``). This reader
checks the data against the header (``POINTS``, ``FIELDS``/``SIZE``/``TYPE``/
``COUNT``) before allocating anything and raises :class:`ValueError` with the
reason. Colour is read from a packed ``rgb``/``rgba`` field, as PCL writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_MAX_HEADER = 1 << 16
_KINDS = {("F", 4): "f4", ("F", 8): "f8", ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4",
          ("I", 8): "i8", ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}
_KEYS = ("VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS")


def read_pcd(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(points [N, 3] float64, colours [N, 3] in [0, 1] or None)``."""
    data = path.read_bytes()
    header, body_start, mode = _header(data[:_MAX_HEADER])
    fields = header["FIELDS"]
    sizes = _ints(header, "SIZE", len(fields))
    counts = _ints(header, "COUNT", len(fields)) if "COUNT" in header else [1] * len(fields)
    types = header.get("TYPE", [])
    if len(types) != len(fields):
        raise ValueError(f"PCD header has {len(fields)} FIELDS but {len(types)} TYPE entries")
    try:
        dtype = np.dtype([(f"f{i}", "<" + _KINDS[(t.upper(), s)], (c,))
                          for i, (t, s, c) in enumerate(zip(types, sizes, counts, strict=True))])
    except KeyError as exc:
        raise ValueError(f"PCD header has an unknown TYPE/SIZE pair {exc.args[0]}") from None
    if min(counts) < 1:
        raise ValueError("PCD header has a COUNT below 1")
    n = _ints(header, "POINTS", 1)[0] if "POINTS" in header else \
        _ints(header, "WIDTH", 1)[0] * _ints(header, "HEIGHT", 1)[0]
    body = data[body_start:]
    if mode == "ascii":
        rows = _ascii(body, n, sum(counts))
        columns = np.cumsum([0, *counts])
        table = {name: rows[:, columns[i]:columns[i + 1]] for i, name in enumerate(fields)}
        packed = {name: rows[:, columns[i]].astype(np.float32).view(np.uint32)
                  if types[i].upper() == "F" and sizes[i] == 4
                  else rows[:, columns[i]].astype(np.uint32) for i, name in enumerate(fields)}
    else:
        records = _binary(body, n, dtype) if mode == "binary" else _compressed(body, n, dtype)
        table = {name: records[f"f{i}"].astype(np.float64) for i, name in enumerate(fields)}
        packed = {name: records[f"f{i}"][:, 0].view(np.uint32) if sizes[i] == 4 else None
                  for i, name in enumerate(fields)}
    missing = [axis for axis in "xyz" if axis not in table]
    if missing:
        raise ValueError(f"PCD file has no {', '.join(missing)} field")
    points = np.concatenate([table[axis][:, :1] for axis in "xyz"], axis=1)
    colour = next((packed[c] for c in ("rgb", "rgba") if packed.get(c) is not None), None)
    if colour is None:
        return points, None
    rgb = np.stack([(colour >> 16) & 255, (colour >> 8) & 255, colour & 255], axis=1)
    return points, rgb.astype(np.float64) / 255.0


def _header(head: bytes) -> tuple[dict[str, list[str]], int, str]:
    header: dict[str, list[str]] = {}
    offset = 0
    while True:
        end = head.find(b"\n", offset)
        if end < 0:
            raise ValueError("PCD header has no DATA line (truncated or not a PCD file)")
        line = head[offset:end].decode("ascii", errors="replace").split("#", 1)[0].split()
        offset = end + 1
        if not line:
            continue
        key = line[0].upper()
        if key == "DATA":
            mode = line[1].lower() if len(line) > 1 else ""
            if mode not in ("ascii", "binary", "binary_compressed"):
                raise ValueError(f"unknown PCD DATA type {' '.join(line[1:2])!r}")
            if "FIELDS" not in header or not header["FIELDS"]:
                raise ValueError("PCD header has no FIELDS line")
            return header, offset, mode
        if key not in _KEYS:
            raise ValueError(f"not a PCD file (unexpected header line {' '.join(line)[:60]!r})")
        header[key] = line[1:]


def _ints(header: dict[str, list[str]], key: str, length: int) -> list[int]:
    values = header.get(key, [])
    try:
        parsed = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"PCD {key} must hold integers, got {' '.join(values)[:60]!r}") from None
    if len(parsed) != length or min(parsed, default=0) < 0:
        raise ValueError(f"PCD {key} must hold {length} non-negative integer(s), "
                         f"got {' '.join(values)[:60]!r}")
    return parsed


def _ascii(body: bytes, n: int, width: int) -> np.ndarray:
    tokens = body.split()
    if len(tokens) < n * width:
        raise ValueError(f"truncated PCD: the header declares {n} points of {width} values, "
                         f"the data holds {len(tokens)} values")
    try:
        return np.array(tokens[:n * width], dtype="S").astype(np.float64).reshape(n, width)
    except ValueError as exc:
        raise ValueError(f"corrupt PCD: a value is not a number ({exc})") from None


def _binary(body: bytes, n: int, dtype: np.dtype) -> np.ndarray:
    if n * dtype.itemsize > len(body):
        raise ValueError(f"truncated PCD: the header declares {n} points of {dtype.itemsize} "
                         f"bytes, the data holds {len(body)} bytes")
    return np.frombuffer(body, dtype, n)


def _compressed(body: bytes, n: int, dtype: np.dtype) -> np.ndarray:
    """binary_compressed: two uint32 sizes, then LZF data laid out field by field."""
    if len(body) < 8:
        raise ValueError("truncated PCD: binary_compressed data has no size words")
    packed, size = (int(v) for v in np.frombuffer(body, "<u4", 2))
    if size != n * dtype.itemsize:
        raise ValueError(f"corrupt PCD: {size} uncompressed bytes declared, the header "
                         f"implies {n * dtype.itemsize}")
    if packed > len(body) - 8:
        raise ValueError(f"truncated PCD: {packed} compressed bytes declared, "
                         f"{len(body) - 8} present")
    raw = lzf_decompress(body[8:8 + packed], size)
    records = np.zeros(n, dtype)
    at = 0
    for name in dtype.names or ():
        width = dtype[name].itemsize
        column = np.frombuffer(raw, dtype[name].base, n * dtype[name].shape[0], at)
        records[name] = column.reshape(n, *dtype[name].shape)
        at += n * width
    return records


def lzf_decompress(data: bytes, size: int) -> bytes:
    """LibLZF decompression (as PCL writes it); raises :class:`ValueError` on bad input."""
    out = bytearray()
    i, end = 0, len(data)
    while i < end:
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            length = ctrl + 1
            if i + length > end:
                raise ValueError("corrupt PCD: LZF literal runs past the data")
            out += data[i:i + length]
            i += length
        else:  # a back reference
            length = ctrl >> 5
            if length == 7:
                if i >= end:
                    raise ValueError("corrupt PCD: LZF data ends inside a reference")
                length += data[i]
                i += 1
            if i >= end:
                raise ValueError("corrupt PCD: LZF data ends inside a reference")
            ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
            i += 1
            length += 2
            if ref < 0:
                raise ValueError("corrupt PCD: LZF reference before the start of the data")
            if ref + length <= len(out):
                out += out[ref:ref + length]
            else:  # an overlapping copy repeats the bytes it has just written
                for k in range(length):
                    out.append(out[ref + k])
        if len(out) > size:
            raise ValueError(f"corrupt PCD: LZF data expands past the {size} bytes declared")
    if len(out) != size:
        raise ValueError(f"truncated PCD: LZF data expands to {len(out)} of {size} bytes")
    return bytes(out)
