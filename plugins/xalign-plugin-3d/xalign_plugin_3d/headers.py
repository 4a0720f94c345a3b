"""The PLY header: format, elements and typed properties, which drive
:mod:`xalign_plugin_3d.plyio`. Malformed headers raise :class:`HeaderError`."""

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


@dataclass(frozen=True)
class PlyProperty:
    name: str
    type: str  # a key of _SCALAR_BYTES
    count_type: str | None = None  # set for a list property: the type of its length prefix


@dataclass
class PlyElement:
    name: str
    count: int
    properties: list[PlyProperty] = field(default_factory=list)

    def min_row_bytes(self) -> int:
        """Bytes of the fixed part plus each list's length prefix (lists may be empty)."""
        return sum(_SCALAR_BYTES[p.count_type or p.type] for p in self.properties)


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
            elements[-1].properties.append(_property(words))
        else:
            raise HeaderError(f"unexpected PLY header line {line!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise HeaderError(f"unknown PLY format {fmt!r}")
    return PlyHeader(fmt, newline + 1, elements)


def _property(words: list[str]) -> PlyProperty:
    if words[1] == "list" and len(words) == 5:
        count_type, item_type = words[2], words[3]
        if count_type not in _SCALAR_BYTES or item_type not in _SCALAR_BYTES:
            raise HeaderError(f"unknown PLY list type in {' '.join(words)!r}")
        if count_type.startswith(("float", "double")):
            raise HeaderError(f"PLY list length must be an integer type in {' '.join(words)!r}")
        return PlyProperty(words[4], item_type, count_type)
    if len(words) == 3 and words[1] in _SCALAR_BYTES:
        return PlyProperty(words[2], words[1])
    raise HeaderError(f"malformed PLY property {' '.join(words)!r}")
