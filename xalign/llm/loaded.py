"""The loaded-LLM bundle every other module receives: model, tokenizer, identity, width."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

# Tokenizers without a real limit report a huge sentinel as ``model_max_length``.
_NO_LIMIT = 1_000_000


@dataclass
class LoadedLLM:
    """A causal LM ready for xalign: frozen by default, with a tokenizer that can pad.

    ``llm_id`` names the model in projector configs (``"smollm2"`` for the embedded
    default, otherwise the hub id, path or GGUF file name given to :func:`load_llm`);
    ``hidden_size`` is the embedding width projectors must produce.
    """

    model: Any  # transformers PreTrainedModel (or a peft wrapper after apply_lora)
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    llm_id: str
    hidden_size: int

    @property
    def context_length(self) -> int:
        """Longest sequence the model accepts (positions table, tokenizer limit)."""
        config = self.model.config
        limits = [
            getattr(config, name, None)
            for name in ("max_position_embeddings", "n_positions", "max_sequence_length")
        ]
        limits.append(getattr(self.tokenizer, "model_max_length", None))
        valid = [int(v) for v in limits if isinstance(v, int) and 0 < v < _NO_LIMIT]
        return min(valid) if valid else 2048

    @property
    def embeddings(self) -> nn.Module:
        """The input embedding table (token ids -> vectors)."""
        return self.model.get_input_embeddings()

    @property
    def pad_token_id(self) -> int:
        tok = self.tokenizer
        for value in (tok.pad_token_id, tok.eos_token_id):
            if value is not None:
                return int(value)
        return 0


def freeze_llm(model: nn.Module) -> nn.Module:
    """Turn off gradients and dropout: the LLM stays frozen unless a recipe adds LoRA."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()
