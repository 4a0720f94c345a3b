"""Reader for CTranslate2's ``model.bin`` (binary version 6), the format the weight packages ship.

Layout (little endian), as CTranslate2's ``ModelSpec._serialize`` writes it::

    u32 binary_version            (6)
    str spec_name                 ("WhisperSpec")
    u32 spec_revision
    u32 num_variables
    num_variables × { str name; u8 rank; u32 dims[rank]; u8 dtype; u32 num_bytes; bytes }
    u32 num_aliases
    num_aliases × { str alias; str target }

where ``str`` is ``u16 length`` (including a trailing NUL) followed by the UTF-8 bytes and the
NUL. A model may be split into several files (``model.bin.part1`` + ``.part2``): they are read
as one stream, so the 145 MB joined file is never written.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xalign.errors import CheckpointError

SUPPORTED_VERSIONS = (5, 6)
# CTranslate2's DataType enum
DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}
BFLOAT16 = 5  # no numpy dtype: widened to float32 by hand


@dataclass
class CT2Model:
    """The variables of one ``model.bin``: name -> array, plus aliases (tied weights)."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """A variable by name, following aliases; a missing name is a :class:`CheckpointError`."""
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise CheckpointError(f"CTranslate2 model {self.spec!r} has no variable {name!r}")
        return self.variables[name]


class _Stream(io.RawIOBase):
    """Several files read back to back as one binary stream."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self.paths = list(paths)
        self._files: Iterator[Path] = iter(self.paths)
        self._current = None
        self._next()

    def _next(self) -> bool:
        if self._current is not None:
            self._current.close()
        path = next(self._files, None)
        self._current = None if path is None else open(path, "rb")  # noqa: SIM115
        return self._current is not None

    def read_exact(self, n: int) -> bytes:
        chunks, need = [], n
        while need and self._current is not None:
            chunk = self._current.read(need)
            if not chunk:
                self._next()
                continue
            chunks.append(chunk)
            need -= len(chunk)
        if need:
            names = " + ".join(p.name for p in self.paths)
            raise CheckpointError(f"{names}: truncated CTranslate2 model (wanted {n} more "
                                  f"bytes, {n - need} left)")
        return b"".join(chunks)

    def at_end(self) -> bool:
        while self._current is not None:
            if self._current.read(1):
                return False
            self._next()
        return True

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


def read_ct2(paths: str | Path | Sequence[str | Path]) -> CT2Model:
    """Read a CTranslate2 ``model.bin`` (or its parts, in order) into numpy arrays.

    Raises :class:`CheckpointError` naming the file for a missing or truncated file, an
    unsupported binary version, an unknown dtype or a size that disagrees with the shape.
    """
    parts = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not parts:
        raise CheckpointError("read_ct2: no model file given")
    for part in parts:
        if not part.is_file():
            raise CheckpointError(f"{part}: CTranslate2 model file not found")
    label = " + ".join(str(p) for p in parts)
    stream = _Stream(parts)
    try:
        def u(fmt: str) -> int:
            size = struct.calcsize("<" + fmt)
            return struct.unpack("<" + fmt, stream.read_exact(size))[0]

        def text() -> str:
            raw = stream.read_exact(u("H"))
            if not raw.endswith(b"\0"):
                raise CheckpointError(f"{label}: malformed string in CTranslate2 model")
            return raw[:-1].decode("utf-8")

        version = u("I")
        if version not in SUPPORTED_VERSIONS:
            raise CheckpointError(f"{label}: CTranslate2 binary version {version} is not "
                                  f"supported (supported: {SUPPORTED_VERSIONS})")
        spec, revision = text(), u("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(u("I")):
            name = text()
            shape = tuple(u("I") for _ in range(u("B")))
            dtype_id, num_bytes = u("B"), u("I")
            data = stream.read_exact(num_bytes)
            variables[name] = _array(label, name, shape, dtype_id, data)
        aliases = {}
        for _ in range(u("I")):
            alias = text()
            aliases[alias] = text()
        if not stream.at_end():
            raise CheckpointError(f"{label}: trailing bytes after the CTranslate2 model")
    finally:
        stream.close()
    for alias, target in aliases.items():
        if target not in variables:
            raise CheckpointError(f"{label}: alias {alias!r} points to missing {target!r}")
    return CT2Model(spec=spec, revision=revision, variables=variables, aliases=aliases)


def _array(label: str, name: str, shape: tuple[int, ...], dtype_id: int,
           data: bytes) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if dtype_id == BFLOAT16:
        dtype, itemsize = None, 2
    elif dtype_id in DTYPES:
        dtype, itemsize = DTYPES[dtype_id], DTYPES[dtype_id].itemsize
    else:
        raise CheckpointError(f"{label}: variable {name!r} has unknown dtype id {dtype_id}")
    if len(data) != count * itemsize:
        raise CheckpointError(f"{label}: variable {name!r} of shape {shape} holds "
                              f"{len(data)} bytes, expected {count * itemsize}")
    if dtype is None:  # bfloat16: the high half of a float32
        wide = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return wide.view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def write_ct2(path: str | Path, spec: str,
              variables: dict[str, np.ndarray | tuple[int, tuple[int, ...], bytes]],
              aliases: dict[str, str] | None = None, revision: int = 3,
              version: int = 6) -> Path:
    """Write ``variables`` in the same format (tests write tiny models with it).

    A variable is a numpy array or ``(dtype_id, shape, raw bytes)`` (e.g. bfloat16).
    """
    codes = {dtype: code for code, dtype in DTYPES.items()}
    path = Path(path)

    def text(value: str) -> bytes:
        raw = value.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    with open(path, "wb") as out:
        out.write(struct.pack("<I", version) + text(spec) + struct.pack("<I", revision))
        out.write(struct.pack("<I", len(variables)))
        for name, value in variables.items():
            if isinstance(value, tuple):
                code, shape, data = value
            else:
                array = np.ascontiguousarray(value)
                code = codes[array.dtype.newbyteorder("<") if array.dtype.itemsize > 1
                             else array.dtype]
                shape, data = array.shape, array.tobytes()
            out.write(text(name) + struct.pack("<B", len(shape)))
            out.write(b"".join(struct.pack("<I", d) for d in shape))
            out.write(struct.pack("<BI", code, len(data)) + data)
        out.write(struct.pack("<I", len(aliases or {})))
        for alias, target in (aliases or {}).items():
            out.write(text(alias) + text(target))
    return path
