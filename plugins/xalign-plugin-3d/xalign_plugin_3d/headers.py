"""Header checks for PLY and OFF files.

open3d does not report read errors to Python: a PLY cut short in its vertex
block comes back with the declared number of vertices (the missing ones zero)
and an OFF cut short comes back without its faces; it only prints a warning.
Reading the header ourselves gives the declared counts and, for binary PLY, a
lower bound on the file size, so truncation becomes an error that names the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_SCALAR_BYTES = {
    "char": 1, "int8": 1, "uchar": 1, "uint8": 1,
    "short": 2, "int16": 2, "ushort": 2, "uint16": 2,
    "int": 4, "int32": 4, "uint": 4, "uint32": 4,
    "float": 4, "float32": 4, "double": 8, "float64": 8,
}
_MAX_HEADER = 1 << 16


class HeaderError(ValueError):
    """The header is malformed or the body is shorter than the header declares."""


@dataclass
class PlyElement:
    name: str
    count: int
    min_row_bytes: int = 0  # fixed part plus the shortest legal lists
    properties: list[str] = field(default_factory=list)


@dataclass
class PlyHeader:
    format: str  # ascii | binary_little_endian | binary_big_endian
    header_bytes: int
    elements: list[PlyElement]

    def count(self, name: str) -> int:
        return next((e.count for e in self.elements if e.name == name), 0)


def read_ply_header(path: Path) -> PlyHeader:
    """Parse the PLY header of ``path``; raises :class:`HeaderError` when it is not one."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_HEADER)
    if not head.startswith(b"ply"):
        raise HeaderError("not a PLY file (it does not start with 'ply')")
    end = head.find(b"end_header")
    if end < 0:
        raise HeaderError("PLY header has no 'end_header' line (truncated or corrupt)")
    newline = head.find(b"\n", end)
    if newline < 0:
        raise HeaderError("PLY file ends inside its header")
    lines = head[:end].decode("ascii", errors="replace").splitlines()
    fmt, elements = None, []
    for line in lines[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append(PlyElement(words[1], int(words[2])))
        elif words[0] == "property" and elements:
            elements[-1].min_row_bytes += _property_min_bytes(words, elements[-1].name)
            elements[-1].properties.append(words[-1])
        else:
            raise HeaderError(f"unexpected PLY header line {line!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise HeaderError(f"unknown PLY format {fmt!r}")
    return PlyHeader(fmt, newline + 1, elements)


def _property_min_bytes(words: list[str], element: str) -> int:
    if words[1] == "list" and len(words) == 5:
        count_type, item_type = words[2], words[3]
        if count_type not in _SCALAR_BYTES or item_type not in _SCALAR_BYTES:
            raise HeaderError(f"unknown PLY list type in {' '.join(words)!r}")
        min_items = 3 if element == "face" else 0  # a polygon has at least 3 corners
        return _SCALAR_BYTES[count_type] + min_items * _SCALAR_BYTES[item_type]
    if len(words) == 3 and words[1] in _SCALAR_BYTES:
        return _SCALAR_BYTES[words[1]]
    raise HeaderError(f"malformed PLY property {' '.join(words)!r}")


def check_ply_body(path: Path, header: PlyHeader) -> None:
    """Raise :class:`HeaderError` when the body is shorter than the header declares."""
    size = path.stat().st_size
    if header.format == "ascii":
        with open(path, "rb") as fh:
            fh.seek(header.header_bytes)
            rows = sum(1 for line in fh if line.strip())
        declared = sum(e.count for e in header.elements)
        if rows < declared:
            raise HeaderError(f"truncated PLY: header declares {declared} rows, file has {rows}")
        return
    needed = header.header_bytes + sum(e.count * e.min_row_bytes for e in header.elements)
    if size < needed:
        raise HeaderError(
            f"truncated PLY: header declares at least {needed} bytes, file has {size}"
        )


def read_off_counts(path: Path) -> tuple[int, int] | None:
    """``(vertices, faces)`` declared by an ASCII OFF header (``None`` for binary OFF)."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_HEADER).decode("ascii", errors="replace")
    lines = [ln.split("#", 1)[0].strip() for ln in head.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0].split()[0].endswith("OFF"):
        raise HeaderError("not an OFF file (the first line is not 'OFF')")
    first = lines[0].split()
    if len(first) > 1 and first[1].upper() == "BINARY":
        return None
    counts = first[1:] if len(first) >= 3 else (lines[1].split() if len(lines) > 1 else [])
    try:
        return int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        raise HeaderError("OFF header has no 'vertices faces edges' counts") from None
