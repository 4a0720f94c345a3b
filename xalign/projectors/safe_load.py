"""Reading foreign weight files without executing anything they contain.

PyTorch pickles (``.pth``, ``.pt``, ``.bin``) are opened with
``torch.load(weights_only=True)`` only: a pickle that references arbitrary
callables is refused with a :class:`CheckpointError` before any of them runs.
Safetensors files are read with ``safe_open``, so only the wanted tensors of a
large checkpoint are materialised.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import safe_open

from xalign.errors import CheckpointError

_PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


def load_torch_pickle(path: str | Path) -> object:
    """``torch.load(path, weights_only=True)`` with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to unpickle: the file holds objects other than tensors and plain "
            f"containers, and xalign only loads checkpoints with weights_only=True ({exc})"
        ) from exc
    except Exception as exc:  # zip/EOF/runtime errors of a truncated or foreign file
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc


def unwrap_state_dict(obj: object, path: str | Path) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint (``{"model": ...}``, ``{"state_dict": ...}`` or bare)."""
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict", "module"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: holds no tensors")
    return tensors


def _read_safetensors(path: Path, keep: Callable[[str], bool]) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {k: handle.get_tensor(k) for k in handle.keys() if keep(k)}  # noqa: SIM118
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from exc


def read_tensor_file(path: str | Path, keep: Callable[[str], bool] = lambda _k: True
                     ) -> dict[str, torch.Tensor]:
    """Tensors of one ``.safetensors`` file or PyTorch pickle (filtered by ``keep``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    if path.suffix == ".safetensors":
        return _read_safetensors(path, keep)
    if path.suffix in _PICKLE_SUFFIXES:
        state = unwrap_state_dict(load_torch_pickle(path), path)
        return {k: v for k, v in state.items() if keep(k)}
    raise CheckpointError(f"{path}: unsupported weight file type {path.suffix!r}; expected "
                          f".safetensors or one of {', '.join(_PICKLE_SUFFIXES)}")


def read_tensors(directory: str | Path, keep: Callable[[str], bool] = lambda _k: True
                 ) -> dict[str, torch.Tensor]:
    """Tensors of a transformers-style model directory (single or sharded weights)."""
    directory = Path(directory)
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{index}: not a readable safetensors index ({exc})") from exc
        shards = sorted({shard for key, shard in weight_map.items() if keep(key)})
        out: dict[str, torch.Tensor] = {}
        for shard in shards:
            out.update(_read_safetensors(directory / shard, keep))
        return out
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (directory / name).is_file():
            return read_tensor_file(directory / name, keep)
    raise CheckpointError(f"{directory}: no model.safetensors, model.safetensors.index.json "
                          "or pytorch_model.bin found")
