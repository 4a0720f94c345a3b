"""Score several answers to one prompt while running the prompt once.

Ranking candidates (held-out accuracy, DisCRn) asks for the loss of every candidate answer
after the same prompt. Running each (prompt, candidate) row whole repeats the prompt, by far
the longer part, once per candidate. Here the prompts run once, left padded, keeping their
key/value cache; each candidate then runs on its prompt's cache and costs only its own few
tokens. Same losses as the whole rows (up to float rounding), a fraction of the compute.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of a left-padded batch: 0 at each row's first real token."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def cache_argument(language_model: Any) -> str:
    """What the LLM's forward calls its key/value cache (``cache`` since transformers 5.x,
    ``past_key_values`` before); a peft wrapper passes it on to the model it wraps."""
    base = getattr(language_model, "get_base_model", lambda: language_model)()
    parameters = inspect.signature(base.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def prompt_cache(language_model: Any, inputs_embeds: torch.Tensor,
                 attention_mask: torch.Tensor, keep_logits: bool) -> tuple[Any, torch.Tensor]:
    """Run left-padded prompts once: their key/value cache and the logits of their last
    position (which predict each answer's first token)."""
    kwargs: dict[str, Any] = {"logits_to_keep": 1} if keep_logits else {}
    out = language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                         position_ids=positions(attention_mask), use_cache=True, **kwargs)
    cache = out["cache"] if "cache" in out else out["past_key_values"]
    return cache, out.logits[:, -1].float()


def answer_losses(language_model: Any, cache: Any, last_logits: torch.Tensor,
                  attention_mask: torch.Tensor, prompt_of: Sequence[int],
                  answers: Sequence[Sequence[int]], pad_token_id: int,
                  reuse_cache: bool = False) -> torch.Tensor:
    """Mean NLL of each answer (token ids, end-of-turn included) after prompt
    ``prompt_of[i]`` of the batch that :func:`prompt_cache` ran. The cache is copied unless
    ``reuse_cache`` (its last use: it is then narrowed to these rows in place)."""
    index = torch.tensor(list(prompt_of), device=attention_mask.device)
    if not reuse_cache:
        cache = copy.deepcopy(cache)
    cache.batch_select_indices(index)
    width = max(len(a) for a in answers)
    ids = torch.full((len(answers), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros(len(answers), width, dtype=torch.long)
    for row, answer in enumerate(answers):
        ids[row, :len(answer)] = torch.tensor(list(answer), dtype=torch.long)
        mask[row, :len(answer)] = 1
    ids, mask = ids.to(attention_mask.device), mask.to(attention_mask.device)
    prompt_mask = attention_mask[index]
    start = prompt_mask.sum(1, keepdim=True)  # each answer goes on where its prompt ended
    out = language_model(inputs_embeds=language_model.get_input_embeddings()(ids),
                         attention_mask=torch.cat([prompt_mask, mask], dim=1),
                         position_ids=start + torch.arange(width, device=ids.device),
                         use_cache=False, **{cache_argument(language_model): cache})
    # token 0 is predicted by the prompt's last position, token t by answer position t - 1
    logits = torch.cat([last_logits[index, None], out.logits[:, :-1].float()], dim=1)
    nll = F.cross_entropy(logits.transpose(1, 2), ids, reduction="none") * mask
    return nll.sum(1) / mask.sum(1).clamp(min=1)
