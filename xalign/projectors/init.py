"""Warm-starting a Q-Former projector from BLIP-2 weights or from another trained projector.

The paper initialises each modality's Q-Former from BLIP-2 stage-1 weights without
the cross-attention layers (they are learned afresh, since each encoder is
different), and the video Q-Former from the trained image Q-Former. Both are
"copy every tensor whose name and shape match":

* foreign sources (a state dict, a ``.safetensors`` / ``.pth`` / ``.bin`` file or a
  transformers model directory, in LAVIS or transformers key layout, see
  :mod:`xalign.projectors.qformer_keys`) leave cross-attention fresh by default;
* an xalign projector directory copies everything that matches, cross-attention
  included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from xalign.errors import CheckpointError, XalignError
from xalign.projectors.base import Projector
from xalign.projectors.io import CONFIG_NAME, WEIGHTS_NAME, read_safetensors
from xalign.projectors.qformer_keys import is_cross_attention, normalize_qformer_key
from xalign.projectors.safe_load import read_tensor_file, read_tensors

log = logging.getLogger(__name__)


@dataclass
class InitReport:
    """What :func:`init_qformer_from` did."""

    source: str
    copied: list[str] = field(default_factory=list)  # projector tensors now holding source values
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (projector tensor, reason)
    fresh: list[str] = field(default_factory=list)  # projector tensors left as initialised
    ignored: int = 0  # source tensors that belong to no part of a projector

    def __str__(self) -> str:
        return (f"initialised from {self.source}: copied {len(self.copied)} tensors, "
                f"skipped {len(self.skipped)}, left fresh {len(self.fresh)}, "
                f"ignored {self.ignored} source tensors")


def _is_xalign_dir(path: Path) -> bool:
    try:
        data = json.loads((path / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "kind" in data and "llm_dim" in data


def _foreign_state(source: Mapping[str, torch.Tensor], origin: str) -> dict[str, torch.Tensor]:
    mapped: dict[str, torch.Tensor] = {}
    origins: dict[str, str] = {}
    for key, value in source.items():
        name = normalize_qformer_key(key)
        if name is None or not isinstance(value, torch.Tensor):
            continue
        if name in mapped:
            raise CheckpointError(
                f"{origin}: both {origins[name]!r} and {key!r} map to {name!r}; the source holds "
                "several Q-Formers (a multi-modality LAVIS checkpoint? convert it first with "
                "`xalign convert lavis`)"
            )
        mapped[name], origins[name] = value, key
    return mapped


def _load_source(source: str | Path | Mapping[str, torch.Tensor]
                 ) -> tuple[dict[str, torch.Tensor], int, bool, str]:
    """(tensors under projector names, source tensor count, is-xalign, description)."""
    if isinstance(source, Mapping):
        return _foreign_state(source, "state dict"), len(source), False, "state dict"
    path = Path(source)
    if path.is_dir() and _is_xalign_dir(path):
        state = read_safetensors(path / WEIGHTS_NAME)
        return state, len(state), True, str(path)
    raw = read_tensors(path, keep=lambda k: normalize_qformer_key(k) is not None) \
        if path.is_dir() else read_tensor_file(path)
    return _foreign_state(raw, str(path)), len(raw), False, str(path)


def init_qformer_from(
    projector: Projector,
    source: str | Path | Mapping[str, torch.Tensor],
    *,
    skip_cross_attention: bool | None = None,
) -> InitReport:
    """Copy every tensor of ``source`` whose name and shape match into ``projector``.

    ``skip_cross_attention`` defaults to True for foreign (BLIP-2 / InstructBLIP)
    sources and False for xalign projector directories. Returns an
    :class:`InitReport`; it is also logged.
    """
    state, total, is_xalign, origin = _load_source(source)
    if not is_xalign and projector.config.kind != "qformer":
        raise XalignError(f"cannot initialise a {projector.config.kind} projector from Q-Former "
                          f"weights ({origin}); only xalign projector directories fit any kind")
    if skip_cross_attention is None:
        skip_cross_attention = not is_xalign
    report = InitReport(source=origin, ignored=total - len(state))
    own = projector.state_dict()
    with torch.no_grad():
        for name, target in own.items():
            if name not in state:
                report.fresh.append(name)
            elif skip_cross_attention and is_cross_attention(name):
                report.skipped.append((name, "cross-attention left fresh"))
            elif state[name].shape != target.shape:
                report.skipped.append(
                    (name, f"shape {tuple(state[name].shape)} != {tuple(target.shape)}"))
            else:
                target.copy_(state[name].to(target.dtype))
                report.copied.append(name)
    unused = sorted(set(state) - set(own))
    report.skipped.extend((name, "no such tensor in this projector") for name in unused)
    log.info("%s", report)
    return report
