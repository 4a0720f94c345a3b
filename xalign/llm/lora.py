"""Optional LoRA adapters inside the (otherwise frozen) LLM, for recipes that tune it."""

from __future__ import annotations

from collections.abc import Sequence

from xalign.errors import XalignError
from xalign.llm.loaded import LoadedLLM


def apply_lora(
    loaded: LoadedLLM,
    *,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    target_modules: Sequence[str] | str | None = None,
) -> LoadedLLM:
    """Wrap ``loaded.model`` with LoRA adapters (``peft``); only the adapters train.

    ``target_modules=None`` lets peft pick its default for the architecture (the
    attention projections for Llama-style models). The base weights stay frozen.
    Returns ``loaded`` itself, its ``model`` replaced by the peft model.
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise XalignError("LoRA needs the 'peft' package: pip install 'xalign[lora]'") from exc
    if r <= 0:
        raise XalignError(f"LoRA rank r must be positive, got {r}")
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules) if isinstance(target_modules, (list, tuple))
        else target_modules,
        task_type="CAUSAL_LM",
    )
    try:
        loaded.model = get_peft_model(loaded.model, config)
    except ValueError as exc:  # e.g. target modules not found in this architecture
        raise XalignError(f"cannot add LoRA to {loaded.llm_id!r}: {exc}") from exc
    return loaded
