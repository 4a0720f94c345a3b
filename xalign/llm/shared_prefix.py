"""Run the opening that every row of a batch shares once, not once per row.

The rows of a one-modality training batch all open with the same tokens: the chat
template's system and user headers and the input's cue (``<|im_start|>system … image: ``),
about a quarter of a tiny-recipe row; every DisCRn prompt opens with the same fixed
instruction, more than a third of it. Those positions do not depend on the projector, so
their key/value cache is computed for one row, repeated over the batch, and every row goes
on from there. While the LLM is frozen the opening's cache is also kept from one batch to
the next (it can only change with the LLM's weights or the autocast precision). The outputs
are those of the whole rows up to float rounding; the rows' forward and backward passes no
longer run through the opening.

Rows may be padded on either side: a left-padded row ``[pad][opening][rest]`` goes on as
``[opening][pad][rest]``, the same attention and positions.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from xalign.compose import IGNORE_INDEX, Composed
from xalign.llm.shared_prompt import cache_argument

# below this many shared tokens a second LLM call costs more than it saves
MIN_SHARED = 4


def row_starts(attention_mask: torch.Tensor) -> torch.Tensor:
    """Each row's first real position (its left padding; 0 for right-padded rows)."""
    return attention_mask.long().argmax(dim=1)


def shared_prefix_length(composed: Composed) -> int:
    """How many leading real positions are the same text in every row. Every row keeps at
    least its last token, and with labels the prefix stops before the first position whose
    output a loss reads (the one that predicts the first target token)."""
    ids, media, mask = composed.input_ids, composed.media_mask, composed.attention_mask
    if ids.shape[0] < 2:
        return 0  # nothing to share
    starts = row_starts(mask)
    longest = int(mask.sum(1).min()) - 1
    if longest <= 0:
        return 0
    index = starts[:, None] + torch.arange(longest, device=ids.device)
    aligned, aligned_media = ids.gather(1, index), media.gather(1, index)
    same = (aligned == aligned[:1]).all(0) & ~aligned_media.any(0)
    length = int(same.long().cumprod(0).sum())
    if composed.labels is not None:
        if bool(starts.any()):
            raise ValueError("a batch with labels is right padded")
        labelled = (composed.labels != IGNORE_INDEX).any(0).nonzero()
        if len(labelled):
            length = min(length, int(labelled[0]) - 1)
    return max(length, 0)


class PrefixRunner:
    """The LLM on batches whose rows open alike (:func:`shared_prefix_length`), keeping the
    caches of the openings it has seen while no LLM weight trains (a handful: one per
    modality cue, one for DisCRn's instruction)."""

    def __init__(self, language_model: Any, keep_logits: bool, max_kept: int = 16) -> None:
        self.language_model, self.keep_logits, self.max_kept = language_model, keep_logits, max_kept
        self._kept: dict[tuple, tuple[Any, tuple[torch.Tensor, ...]]] = {}

    def clear(self) -> None:
        """Forget the kept caches (call after changing the LLM's weights in place)."""
        self._kept.clear()

    def _head(self, composed: Composed, prefix: int, hidden_states: bool
              ) -> tuple[Any, tuple[torch.Tensor, ...]]:
        """A cache of the opening repeated over the batch (the caller may append to it), and
        the opening's hidden states (``[1, prefix, d]`` each) when asked for."""
        start = int(row_starts(composed.attention_mask)[0])
        ids = composed.input_ids[0, start:start + prefix]
        embeds = composed.inputs_embeds[:1, start:start + prefix]
        device = embeds.device.type
        # trainable LLM weights (LoRA) may change between calls, even between evaluations
        trains = any(p.requires_grad for p in self.language_model.parameters())
        autocast = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        key = (tuple(ids.tolist()), hidden_states, autocast, str(embeds.device))
        if trains or key not in self._kept:
            out = self.language_model(
                inputs_embeds=embeds if trains else embeds.detach(),  # frozen text: no gradient
                use_cache=True, output_hidden_states=hidden_states,
                **({"logits_to_keep": 1} if self.keep_logits else {}))
            head = (out["cache"] if "cache" in out else out["past_key_values"],
                    tuple(out.hidden_states) if hidden_states else ())
            if trains:
                head[0].batch_repeat_interleave(composed.attention_mask.shape[0])
                return head  # differentiable: a LoRA-tuned LLM still learns through it
            if len(self._kept) >= self.max_kept:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = head
        cache, states = self._kept[key]
        cache = copy.deepcopy(cache)  # the rows' pass appends to it
        cache.batch_repeat_interleave(composed.attention_mask.shape[0])
        return cache, states

    def _rest(self, composed: Composed, prefix: int, cache: Any, **kwargs: Any) -> Any:
        """The rows after their opening, on the opening's ``cache``: ``[pad][opening][rest]``
        runs as ``[opening][pad][rest]``."""
        mask = composed.attention_mask
        batch, length = mask.shape
        starts = row_starts(mask)[:, None]
        steps = torch.arange(length - prefix, device=mask.device)[None]
        index = torch.where(steps < starts, steps, steps + prefix)  # skip each row's opening
        embeds = composed.inputs_embeds.gather(
            1, index[..., None].expand(-1, -1, composed.inputs_embeds.shape[-1]))
        rest_mask = mask.gather(1, index)
        full_mask = torch.cat([mask.new_ones(batch, prefix), rest_mask], dim=1)
        positions = (prefix + rest_mask.long().cumsum(1) - 1).clamp(min=prefix)
        out = self.language_model(inputs_embeds=embeds, attention_mask=full_mask,
                                  position_ids=positions,
                                  **{cache_argument(self.language_model): cache}, **kwargs)
        return out, full_mask

    def forward(self, composed: Composed, prefix: int, keep: torch.Tensor,
                hidden_states: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """A right-padded batch: the logits at positions ``keep`` (``[B, len(keep), V]``)
        and, with ``hidden_states``, every layer's states over the whole rows (``[B, S, d]``
        each, the opening repeated)."""
        batch, length = composed.attention_mask.shape
        if not 0 < prefix < length or int(keep.min()) < prefix:
            raise ValueError(f"a shared prefix of {prefix} positions does not fit rows of "
                             f"{length} whose first scored position is {int(keep.min())}")
        cache, head_states = self._head(composed, prefix, hidden_states)
        rest = keep - prefix
        out, _ = self._rest(composed, prefix, cache, use_cache=False,
                            output_hidden_states=hidden_states,
                            **({"logits_to_keep": rest} if self.keep_logits else {}))
        logits = out.logits if self.keep_logits else out.logits[:, rest]
        states: tuple[torch.Tensor, ...] = ()
        if hidden_states:
            states = tuple(torch.cat([h.expand(batch, -1, -1), r], dim=1)
                           for h, r in zip(head_states, out.hidden_states, strict=True))
        return logits, states

    def prompt_cache(self, composed: Composed, prefix: int
                     ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """Prompts (either padding) run once, as :func:`xalign.llm.shared_prompt.prompt_cache`:
        their cache, their last position's logits, and the attention mask that goes with
        the cache (the same length and count of real tokens as the prompts')."""
        cache, _ = self._head(composed, prefix, hidden_states=False)
        out, full_mask = self._rest(composed, prefix, cache, use_cache=True,
                                    **({"logits_to_keep": 1} if self.keep_logits else {}))
        cache = out["cache"] if "cache" in out else out["past_key_values"]
        return cache, out.logits[:, -1].float(), full_mask
