"""Saving and loading projector directories: ``config.json`` + ``model.safetensors``.

Each projector is saved alone, so projectors trained separately can be composed
later. Writes are atomic per file (temporary file in the same directory, then
``os.replace``), so an interrupted save never leaves a half-written file under
the final name. Every load problem is a :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from xalign.errors import CheckpointError, XalignError
from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

log = logging.getLogger(__name__)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_projector(projector: Projector, directory: str | Path) -> Path:
    """Write ``projector`` to ``directory``; returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in projector.state_dict().items()}
    meta = {"format": "pt", "xalign_kind": projector.config.kind}
    # Weights first: a config.json only ever describes weights that are already in place.
    _atomic_write(directory / WEIGHTS_NAME, lambda p: save_file(tensors, str(p), metadata=meta))
    text = json.dumps(projector.config.to_dict(), indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda p: p.write_text(text, encoding="utf-8"))
    return directory


def read_config(directory: str | Path) -> ProjectorConfig:
    """The :class:`ProjectorConfig` stored in ``directory/config.json``."""
    path = Path(directory) / CONFIG_NAME
    if not Path(directory).is_dir():
        raise CheckpointError(f"{directory}: projector directory does not exist")
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; a projector directory holds {CONFIG_NAME} "
                              f"and {WEIGHTS_NAME} (written by save_pretrained)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    try:
        return ProjectorConfig.from_dict(data)
    except (XalignError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid projector config: {exc}") from exc


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; a missing or corrupt file is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for corrupt headers/data
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from exc


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module``; missing, unexpected or mis-shaped tensors name ``source``."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors: {', '.join(missing[:8])}"
                         + (f" (+{len(missing) - 8} more)" if len(missing) > 8 else ""))
        if unexpected:
            parts.append(f"unexpected tensors: {', '.join(unexpected[:8])}"
                         + (f" (+{len(unexpected) - 8} more)" if len(unexpected) > 8 else ""))
        raise CheckpointError(f"{source}: " + "; ".join(parts))
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{source}: tensor {key} has shape {tuple(value.shape)}, "
                f"expected {tuple(expected[key].shape)}"
            )
    module.load_state_dict(state, strict=True)


def trained_llm(directories: Sequence[str | Path]) -> str:
    """The LLM (state) the projectors in ``directories`` were trained on, which loading them
    defaults to; projectors trained on different ones cannot be composed without choosing."""
    ids = {read_config(d).llm_id or "smollm2" for d in directories}
    if len(ids) > 1:
        raise XalignError(f"the projectors were trained on different LLMs "
                          f"({', '.join(sorted(ids))}); pass --llm to choose one")
    return ids.pop() if ids else "smollm2"


def _check_width(config: ProjectorConfig, directory: Path, what: str, given: int | None,
                 given_id: str | None) -> None:
    stored = config.llm_dim if what == "LLM" else config.feature_dim
    stored_id = config.llm_id if what == "LLM" else config.encoder_id
    if given is not None and given != stored:
        this = f" ({given_id})" if given_id else ""
        raise CheckpointError(
            f"projector {directory} was made for an {what} of width {stored} "
            f"({'llm_id' if what == 'LLM' else 'encoder_id'} {stored_id or '?'!s}), "
            f"this {what}{this} has width {given}"
        )
    if given_id and stored_id and given_id != stored_id:
        log.warning("projector %s was trained with %s %r, now used with %r (same width %s)",
                    directory, what, stored_id, given_id, stored)


def load_projector(
    directory: str | Path,
    *,
    llm_dim: int | None = None,
    feature_dim: int | None = None,
    llm_id: str | None = None,
    encoder_id: str | None = None,
) -> Projector:
    """Load a projector saved by ``save_pretrained``, checking it fits this LLM and encoder.

    The projector comes back in eval mode (as transformers' ``from_pretrained``); call
    ``.train()`` to train it further.
    """
    from xalign.projectors.registry import build_projector

    directory = Path(directory)
    config = read_config(directory)
    _check_width(config, directory, "LLM", llm_dim, llm_id)
    _check_width(config, directory, "encoder", feature_dim, encoder_id)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing; the projector directory has a config "
                              "but no weights (interrupted save?)")
    state = read_safetensors(weights)
    try:
        projector = build_projector(config)
    except XalignError as exc:
        raise CheckpointError(f"{directory / CONFIG_NAME}: {exc}") from exc
    load_state_strict(projector, state, str(weights))
    return projector.eval()
