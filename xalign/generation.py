"""Decoding presets (DESIGN §3) and batched generation from composed embeddings.

The paper decodes with beam search (5 beams), repetition penalty 1.5 and
temperature 1; the length penalty and the answer length depend on the task:

==================  ==============  ===============  ================================
preset              length penalty  new tokens       use
==================  ==============  ===============  ================================
``caption``         0               10–80            short captions
``long_caption``    1               10–80            long captions
``variable_caption`` 1              1–80             variable-length captions
``short_answer``    −1              1–10             short-answer QA, classification
``greedy``          –               1–32             fast CPU use (1 beam, no penalty)
==================  ==============  ===============  ================================

Every field can be overridden by keyword (``max_new_tokens=20``, ``num_beams=1``…);
unknown keywords go to ``transformers``' ``generate`` unchanged.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from xalign.errors import UnknownNameError


@dataclass(frozen=True)
class DecodingPreset:
    """One decoding configuration (deterministic unless ``do_sample``)."""

    num_beams: int = 5
    repetition_penalty: float = 1.5
    temperature: float = 1.0
    length_penalty: float = 0.0
    min_new_tokens: int = 1
    max_new_tokens: int = 10
    do_sample: bool = False


PRESETS: dict[str, DecodingPreset] = {
    "caption": DecodingPreset(length_penalty=0.0, min_new_tokens=10, max_new_tokens=80),
    "long_caption": DecodingPreset(length_penalty=1.0, min_new_tokens=10, max_new_tokens=80),
    "variable_caption": DecodingPreset(length_penalty=1.0, min_new_tokens=1, max_new_tokens=80),
    "short_answer": DecodingPreset(length_penalty=-1.0, min_new_tokens=1, max_new_tokens=10),
    "greedy": DecodingPreset(num_beams=1, repetition_penalty=1.0, min_new_tokens=1,
                             max_new_tokens=32),
}


def get_preset(name: str | DecodingPreset) -> DecodingPreset:
    """The preset called ``name`` (a :class:`DecodingPreset` passes through)."""
    if isinstance(name, DecodingPreset):
        return name
    if name not in PRESETS:
        raise UnknownNameError("decoding preset", name, PRESETS)
    return PRESETS[name]


def generation_kwargs(preset: str | DecodingPreset = "short_answer", **overrides: Any
                      ) -> dict[str, Any]:
    """Keyword arguments for ``transformers``' ``generate``: the preset, then ``overrides``."""
    values = dataclasses.asdict(get_preset(preset))
    fields = set(values)
    values.update({k: v for k, v in overrides.items() if k in fields})
    kwargs: dict[str, Any] = {
        "num_beams": values["num_beams"],
        "do_sample": values["do_sample"],
        "repetition_penalty": values["repetition_penalty"],
        "min_new_tokens": values["min_new_tokens"],
        "max_new_tokens": values["max_new_tokens"],
    }
    # Only pass what the decoding mode uses, so transformers has nothing to warn about.
    if values["num_beams"] > 1:
        kwargs["length_penalty"] = values["length_penalty"]
    if values["do_sample"]:
        kwargs["temperature"] = values["temperature"]
    kwargs.update({k: v for k, v in overrides.items() if k not in fields})
    return kwargs


@torch.no_grad()
def generate_from_embeds(
    model: Any,
    tokenizer: Any,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    eos_token_ids: list[int],
    pad_token_id: int,
    preset: str | DecodingPreset = "short_answer",
    **overrides: Any,
) -> list[str]:
    """Decode a left-padded batch of prompt embeddings (KV cache on) into stripped strings."""
    kwargs = generation_kwargs(preset, **overrides)
    kwargs.setdefault("use_cache", True)
    kwargs.setdefault("eos_token_id", eos_token_ids or None)
    kwargs.setdefault("pad_token_id", pad_token_id)
    with warnings.catch_warnings():
        # With embeddings only, the penalty covers the new tokens, as in X-InstructBLIP
        # (LAVIS also generates from inputs_embeds); transformers warns about exactly that.
        warnings.filterwarnings("ignore", message=".*repetition_penalty.*inputs_embeds")
        output = model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                **kwargs)
    sequences = output.sequences if hasattr(output, "sequences") else output
    # Decoder-only models return only the new tokens when given embeddings alone.
    texts = tokenizer.batch_decode(sequences, skip_special_tokens=True)
    return [text.strip() for text in texts]
