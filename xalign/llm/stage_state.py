"""The LLM state the text stage makes: shipped adapters merged into the frozen LLM.

Loading an LLM (:mod:`xalign.llm.loader`) needs only this module, not the training code of
:mod:`xalign.llm.text_stage`: read an adapter file's provenance, merge its LoRA deltas into
the weights, and name the result (:func:`state_id`), which every projector trained on it
records so that projectors of different LLM states are never composed (:func:`check_state`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from xalign.errors import CheckpointError, XalignError
from xalign.llm.loaded import LoadedLLM

SHIPPED = Path(__file__).with_name("weights") / "smollm2-compare.safetensors"
FORMAT = "xalign-text-stage-1"


def read_metadata(adapter_file: Path) -> dict[str, Any]:
    """The provenance an adapter file carries (format, base LLM, config, metrics)."""
    from safetensors import safe_open

    try:
        with safe_open(str(adapter_file), "pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("xalign_text_stage", "{}"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{adapter_file}: not a readable safetensors file ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{adapter_file}: not an xalign text-stage adapter file")
    return meta


def state_id(base_llm_id: str, adapter_file: Path) -> str:
    """The LLM state a projector trains on: the base id plus the adapters' content hash."""
    digest = hashlib.sha256(adapter_file.read_bytes()).hexdigest()[:12]
    return f"{base_llm_id}+compare-{digest}"


def apply_adapters(loaded: LoadedLLM, adapter_file: Path | None = None) -> LoadedLLM:
    """Merge shipped (or given) adapters into ``loaded``'s weights; the LLM stays frozen.

    ``loaded.llm_id`` becomes :func:`state_id`, which every projector trained on it records.
    """
    from safetensors import safe_open

    adapter_file = Path(adapter_file or SHIPPED)
    if not adapter_file.is_file():
        raise CheckpointError(f"{adapter_file}: text-stage adapters not found; rebuild them "
                              "with: xalign llm text-stage")
    meta = read_metadata(adapter_file)
    if meta.get("base_llm_id") != loaded.llm_id:
        raise XalignError(f"{adapter_file}: adapters trained on {meta.get('base_llm_id')!r}, "
                          f"not on {loaded.llm_id!r}")
    with safe_open(str(adapter_file), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    scale = meta["config"]["alpha"] / meta["config"]["rank"]
    model = loaded.model
    with torch.no_grad():
        for key in {k.rsplit(".", 1)[0] for k in tensors}:
            linear = model.get_submodule(key)
            delta = scale * tensors[f"{key}.lora_b"] @ tensors[f"{key}.lora_a"]
            linear.weight += delta.to(linear.weight.dtype)
    loaded.llm_id = state_id(loaded.llm_id, adapter_file)
    return loaded


def check_state(wanted: str, loaded_id: str) -> None:
    """Refuse an LLM state other than the one asked for (a projector records its state)."""
    if "+compare-" in wanted and wanted != loaded_id:
        raise XalignError(f"the projector was trained on LLM state {wanted!r}, but this install "
                          f"ships {loaded_id!r} ({SHIPPED}); retrain the projector on it or "
                          "restore the adapters it was trained with")
