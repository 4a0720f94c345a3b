"""Text-only questions to a loaded LLM (smoke checks, the demo)."""

from __future__ import annotations

import torch

from xalign.llm.loaded import LoadedLLM


@torch.no_grad()
def ask(llm: LoadedLLM, question: str, *, max_new_tokens: int = 32) -> str:
    """Greedy answer to ``question``, through the chat template when the tokenizer has one."""
    tokenizer = llm.tokenizer
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                             tokenize=False, add_generation_prompt=True)
        encoded = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    else:
        encoded = tokenizer(question, return_tensors="pt")
    device = llm.model.get_input_embeddings().weight.device
    encoded = {k: v.to(device) for k, v in encoded.items()}
    output = llm.model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=llm.pad_token_id)
    new = output[0, encoded["input_ids"].shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=True).strip()
