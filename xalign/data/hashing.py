"""Content digests for cache keys: file bytes, raw in-memory media, encoder weights."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xalign.errors import MediaError

_CHUNK = 1 << 20
# (path, size, mtime, inode) -> sha256: later epochs skip re-reading unchanged files.
_file_digests: dict[tuple[str, int, int, int], str] = {}


def digest_file(path: str | Path) -> str:
    """sha256 of the file's bytes; raises :class:`MediaError` naming the file when unreadable."""
    path = Path(path)
    try:
        stat = path.stat()
        if not path.is_file():
            raise MediaError(path, "not a regular file")
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if memo in _file_digests:
            return _file_digests[memo]
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as exc:
        raise MediaError(path, f"cannot read file: {exc.strerror or exc}") from None
    _file_digests[memo] = h.hexdigest()
    return _file_digests[memo]


def digest_raw(obj: Any) -> str:
    """sha256 of a raw in-memory media object (arrays, tensors, PIL images, nested containers).

    Raises ``TypeError`` for an object whose content cannot be read as bytes.
    """
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def _tag(h: Any, tag: str, *parts: Any) -> None:
    h.update(f"<{tag}:{':'.join(map(str, parts))}>".encode())


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        _tag(h, "bytes", len(obj))
        h.update(obj)
    elif isinstance(obj, torch.Tensor):
        _tag(h, "tensor", obj.dtype)
        obj = obj.detach().cpu()
        _feed(h, obj.float().numpy() if obj.dtype == torch.bfloat16 else obj.numpy())
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            _feed(h, obj.tolist())
            return
        _tag(h, "array", obj.dtype.str, obj.shape)
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (str, int, float, complex, bool, type(None), np.generic)):
        _tag(h, type(obj).__name__, repr(obj))
    elif isinstance(obj, os.PathLike):
        _tag(h, "file", digest_file(obj))
    elif isinstance(obj, Mapping):
        _tag(h, "map", len(obj))
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        _tag(h, type(obj).__name__, len(obj))
        for x in obj:
            _feed(h, x)
    elif all(hasattr(obj, a) for a in ("mode", "size", "tobytes")):  # PIL image
        _tag(h, "image", obj.mode, obj.size)
        h.update(obj.tobytes())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _tag(h, type(obj).__qualname__)
        for f in dataclasses.fields(obj):
            _feed(h, f.name)
            _feed(h, getattr(obj, f.name))
    elif hasattr(obj, "__array__"):
        _feed(h, np.asarray(obj))
    else:
        raise TypeError(f"cannot hash raw media of type {type(obj).__name__} for the "
                        "feature cache")


def encoder_fingerprint(encoder: torch.nn.Module, encoder_id: str | None = None,
                        sample: int = 1024) -> str:
    """A digest of the encoder's id, its module structure (``repr``: classes, layer sizes,
    flags such as a pooling switch), its tensors' names/shapes/dtypes and a strided sample of
    their values: cheap even at ViT-g size, and it changes when the weights or the code's
    module layout do (the same seeded weights with a new output pooling must not hit
    features cached before)."""
    h = hashlib.sha256()
    _tag(h, "encoder", encoder_id or getattr(encoder, "encoder_id", type(encoder).__name__))
    _tag(h, "structure", repr(encoder))
    for name, tensor in encoder.state_dict().items():
        _tag(h, name, tensor.dtype, tuple(tensor.shape))
        flat = tensor.detach().reshape(-1)
        if flat.numel():
            step = max(1, flat.numel() // sample)
            h.update(flat[::step][:sample].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
