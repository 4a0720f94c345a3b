"""The composer: ``[cue ‖ media tokens] × inputs ‖ instruction ‖ target`` -> LLM inputs.

One sequence per example (DESIGN §1)::

    template prefix ‖ preamble ‖ (cue ‖ tokens) for each input, in order ‖ instruction ‖
    template suffix ‖ target ‖ end-of-turn

The preamble is optional text before the inputs (empty for training and single-input
questions; DisCRn's fixed instruction, which DESIGN §4 puts at the start of the input).

With a chat template the media and the instruction form the user turn and the
target is the assistant turn, ended by the end-of-turn token; without one the
pieces are concatenated (after the BOS token the tokenizer would add). Labels are
-100 everywhere except on the target and its end token. Training pads on the
right, batched generation on the left. An instruction that does not fit the
context is cut from its left (with a warning); media, cues and the template are
never cut, and an example whose fixed parts alone overflow is an error.

Assembly is vectorised: token ids (with placeholders where media go) are embedded
in one call and all projected media tokens of the batch are scattered into their
positions in one ``masked_scatter``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from xalign.errors import XalignError

IGNORE_INDEX = -100
_USER, _ASSISTANT = "\u2063XALIGN_USER\u2063", "\u2063XALIGN_ASSISTANT\u2063"


class ContextLengthError(XalignError):
    """The media tokens (plus template and target) of an example exceed the LLM context."""


@dataclass
class ComposeItem:
    """One example for the composer: ``media`` is a list of ``(cue text, tokens[n, d])``;
    ``preamble`` is text placed before the first input."""

    media: list[tuple[str, torch.Tensor]]
    instruction: str
    target: str | None = None
    preamble: str = ""


@dataclass
class Composed:
    """A padded batch ready for the LLM (``labels`` is ``None`` without targets)."""

    inputs_embeds: torch.Tensor  # [B, S, d]
    attention_mask: torch.Tensor  # [B, S] (1 = real token)
    labels: torch.Tensor | None  # [B, S], -100 outside the target
    input_ids: torch.Tensor  # [B, S], pad id where media tokens or padding sit
    media_mask: torch.Tensor  # [B, S] bool, True on projected media tokens
    lengths: list[int] = field(default_factory=list)  # unpadded length of each row


@dataclass(frozen=True)
class Template:
    """Token ids around the user content and after the target."""

    prefix: tuple[int, ...]  # before the first input
    suffix: tuple[int, ...]  # between the instruction and the target (the assistant header)
    end: tuple[int, ...]  # after the target: the end-of-turn / EOS token
    chat: bool


def build_template(tokenizer: Any, use_chat_template: bool = True,
                   system_prompt: str | None = None) -> Template:
    """Split the tokenizer's chat template around the user and assistant contents.

    ``system_prompt`` becomes a system turn before the user turn (``""``: an empty one,
    which for SmolLM2 replaces its 20-token default system prompt); ``None`` leaves
    the template's default.
    """
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return _chat_template(tokenizer, system_prompt)
    bos = tokenizer.bos_token_id
    probe = tokenizer("x")["input_ids"]
    prefix = (bos,) if bos is not None and probe and probe[0] == bos else ()
    end = (tokenizer.eos_token_id,) if tokenizer.eos_token_id is not None else ()
    return Template(prefix=prefix, suffix=(), end=end, chat=False)


def _chat_template(tokenizer: Any, system_prompt: str | None = None) -> Template:
    messages = [{"role": "user", "content": _USER}]
    if system_prompt is not None:
        messages.insert(0, {"role": "system", "content": system_prompt})
    try:
        prompt = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": _ASSISTANT}], tokenize=False
        )
    except Exception as exc:  # jinja raises its own error types from inside templates
        raise XalignError(f"the tokenizer's chat template failed on a single user turn ({exc}); "
                          "pass use_chat_template=False") from exc
    if prompt.count(_USER) != 1 or full.count(_ASSISTANT) != 1:
        raise XalignError("the tokenizer's chat template does not render a single user turn; "
                          "pass use_chat_template=False")
    before, after = prompt.split(_USER)
    tail = full.split(_ASSISTANT)[1]

    def ids(text: str) -> tuple[int, ...]:
        return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])

    # The end of the assistant turn is its first special token (<|im_end|>, <|eot_id|>…).
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    end = next(((i,) for i in ids(tail) if i in special), None)
    if end is None:
        end = (tokenizer.eos_token_id,) if tokenizer.eos_token_id is not None else ()
    return Template(prefix=ids(before), suffix=ids(after), end=end, chat=True)


_Row = tuple[list[int], list[tuple[int, int]], int]  # ids, media spans (start, count), answer start


class Composer:
    """Builds padded ``inputs_embeds`` / ``attention_mask`` / ``labels`` for a batch."""

    def __init__(self, tokenizer: Any, *, use_cue: bool = True, use_chat_template: bool = True,
                 system_prompt: str | None = None, pad_token_id: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.use_cue = use_cue
        self.template = build_template(tokenizer, use_chat_template, system_prompt)
        if pad_token_id is None:
            pad_token_id = tokenizer.pad_token_id
        if pad_token_id is None:
            pad_token_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.pad_token_id = int(pad_token_id)
        self._cue_ids = lru_cache(maxsize=64)(self._tokenize_one)

    @property
    def end_token_ids(self) -> list[int]:
        """Tokens that end an answer (the template's end of turn, and EOS)."""
        ends = list(self.template.end)
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ends:
            ends.append(int(self.tokenizer.eos_token_id))
        return ends

    def answer_ids(self, targets: Sequence[str]) -> list[list[int]]:
        """Each target's token ids as :meth:`compose` labels them: the end of turn included."""
        return [[*ids, *self.template.end] for ids in self._tokenize(list(targets))]

    def _tokenize_one(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return list(self.tokenizer(texts, add_special_tokens=False)["input_ids"])

    def compose(
        self,
        items: Sequence[ComposeItem],
        embeddings: nn.Module,
        *,
        padding_side: str = "right",
        max_length: int | None = None,
    ) -> Composed:
        """Compose ``items`` into one padded batch embedded with ``embeddings``."""
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if not items:
            raise XalignError("cannot compose an empty batch")
        instructions = self._tokenize([item.instruction for item in items])
        preambles = self._tokenize([item.preamble for item in items])
        has_target = [item.target is not None for item in items]
        if any(has_target) and not all(has_target):
            raise XalignError("either every example of a batch has a target or none has")
        answers = self.answer_ids([item.target for item in items]) if all(has_target) else None
        rows = [
            self._row(i, item, preambles[i], instructions[i],
                      [] if answers is None else answers[i], max_length)
            for i, item in enumerate(items)
        ]
        return self._assemble(rows, items, embeddings, padding_side)

    def _row(self, index: int, item: ComposeItem, preamble: list[int], instruction: list[int],
             answer: list[int], max_length: int | None) -> _Row:
        """Token ids of one row (0 where media go), the media spans, and the target start;
        ``answer``: the target's :meth:`answer_ids` (empty without a target)."""
        t = self.template
        head: list[int] = [*t.prefix, *preamble]
        spans: list[tuple[int, int]] = []
        for cue, tokens in item.media:
            if self.use_cue:
                head.extend(self._cue_ids(cue))
            spans.append((len(head), tokens.shape[0]))
            head.extend([self.pad_token_id] * tokens.shape[0])
        if max_length is not None:
            room = max_length - len(head) - len(t.suffix) - len(answer)
            if room < 0:
                media = sum(n for _, n in spans)
                raise ContextLengthError(
                    f"example {index}: {media} media tokens + {len(head) - media + len(t.suffix)} "
                    f"template/cue tokens + {len(answer)} target tokens exceed the LLM context "
                    f"of {max_length} tokens; use fewer inputs, fewer frames or fewer tokens "
                    "per frame"
                )
            if len(instruction) > room:
                warnings.warn(
                    f"example {index}: instruction of {len(instruction)} tokens cut to its last "
                    f"{room} tokens to fit the LLM context of {max_length}", stacklevel=4,
                )
                instruction = instruction[len(instruction) - room:]
        ids = head + instruction + list(t.suffix)
        return ids + answer, spans, len(ids)

    def _assemble(self, rows: list[_Row], items: Sequence[ComposeItem], embeddings: nn.Module,
                  padding_side: str) -> Composed:
        weight = embeddings.weight
        device = weight.device
        lengths = [len(ids) for ids, _, _ in rows]
        batch, width = len(rows), max(lengths)
        ids = torch.full((batch, width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros(batch, width, dtype=torch.long)
        media_mask = torch.zeros(batch, width, dtype=torch.bool)
        labels = torch.full((batch, width), IGNORE_INDEX, dtype=torch.long)
        with_labels = items[0].target is not None
        for b, (row, spans, answer_start) in enumerate(rows):
            offset = width - len(row) if padding_side == "left" else 0
            end = offset + len(row)
            ids[b, offset:end] = torch.tensor(row, dtype=torch.long)
            attention[b, offset:end] = 1
            for start, count in spans:
                media_mask[b, offset + start: offset + start + count] = True
            if with_labels:
                labels[b, offset + answer_start: end] = ids[b, offset + answer_start: end]
        ids, attention, media_mask = ids.to(device), attention.to(device), media_mask.to(device)
        embeds = embeddings(ids)
        media = [tokens for item in items for _, tokens in item.media]
        if media:
            flat = torch.cat(media).to(device=device, dtype=embeds.dtype)
            if flat.shape[-1] != embeds.shape[-1]:
                raise XalignError(f"media tokens have width {flat.shape[-1]}, the LLM embeds "
                                  f"tokens of width {embeds.shape[-1]}")
            embeds = embeds.masked_scatter(media_mask.unsqueeze(-1), flat)
        return Composed(
            inputs_embeds=embeds,
            attention_mask=attention,
            labels=labels.to(device) if with_labels else None,
            input_ids=ids,
            media_mask=media_mask,
            lengths=lengths,
        )
