"""Text-only prompting of a frozen LLM for the data builders (DisCRn and QA).

The builders only need "prompts in, completions out", expressed by :class:`TextGenerator`.
A prompt is a string (one user turn) or a list of chat messages (few-shot examples as
earlier turns); ``prefill`` starts the answer so that small models keep to the format
(the returned text includes it);
:class:`ChatGenerator` implements it for any ``transformers`` causal LM loaded by
:func:`xalign.llm.load_llm` (the embedded SmolLM2 by default): chat template when the
tokenizer has one, left padding, greedy decoding, batched. Tests drive the builders
with a scripted generator instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Union, runtime_checkable

import torch

Prompt = Union[str, list[dict[str, str]]]  # noqa: UP007 (a runtime alias on Python 3.10)


@runtime_checkable
class TextGenerator(Protocol):
    """Anything that answers a batch of prompts."""

    def complete(self, prompts: Sequence[Prompt], max_new_tokens: int,
                 prefill: str = "") -> list[str]: ...


class ChatGenerator:
    """Greedy, batched completions from a loaded LLM (``xalign.llm.LoadedLLM``)."""

    def __init__(self, llm: Any, batch_size: int = 8,
                 system: str | None = "You are a careful assistant. Answer briefly.") -> None:
        self.llm, self.batch_size, self.system = llm, batch_size, system
        self.calls = 0  # prompts answered, for reporting

    def _render(self, prompt: Prompt, prefill: str) -> str:
        tok = self.llm.tokenizer
        turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        if getattr(tok, "chat_template", None):
            messages = ([{"role": "system", "content": self.system}] if self.system else [])
            text = tok.apply_chat_template(messages + list(turns), tokenize=False,
                                           add_generation_prompt=True)
        else:
            text = "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant: "
        return text + prefill

    @torch.no_grad()
    def complete(self, prompts: Sequence[Prompt], max_new_tokens: int,
                 prefill: str = "") -> list[str]:
        tok, model = self.llm.tokenizer, self.llm.model
        out: list[str] = []
        side = tok.padding_side
        tok.padding_side = "left"  # generated tokens must follow every prompt directly
        try:
            for start in range(0, len(prompts), self.batch_size):
                texts = [self._render(p, prefill)
                         for p in prompts[start:start + self.batch_size]]
                enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(model.device) for k, v in enc.items()}
                generated = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                           pad_token_id=self.llm.pad_token_id)
                new = generated[:, enc["input_ids"].shape[1]:]
                out += [(prefill + t).strip()
                        for t in tok.batch_decode(new, skip_special_tokens=True)]
        finally:
            tok.padding_side = side
        self.calls += len(prompts)
        return out


def load_generator(llm: str = "smollm2", gguf_file: str | None = None,
                   batch_size: int = 8) -> ChatGenerator:
    """A :class:`ChatGenerator` over ``xalign.llm.load_llm(llm)``."""
    from xalign.llm import load_llm

    return ChatGenerator(load_llm(llm, gguf_file=gguf_file), batch_size=batch_size)
