"""The caption teacher: the frozen LLM reading an item's caption shows the projector how its
tokens should be read.

Trained on answers alone, a projector learns tokens the LLM can answer questions about when
they are all it reads; nothing asks them to be read like a description, and composed with a
second input they are not. The teacher is the same frozen LLM with the item's true caption
embedded in the input slot (the layout its text stage learnt to compare,
:mod:`xalign.llm.text_stage`); the student is the LLM with the projected tokens there.
Everything after the slot (the instruction, the answer header, the answer) is the same text
in both, so the student's hidden states at those positions are pulled towards the
teacher's, at every layer: the instruction must read from the tokens what it reads from
the caption::

    loss = NLL(answer) + weight · mean over layers and positions of ‖h_s − h_t‖² / ‖h_t‖²

Only single-input examples of the projector's own modality are used, never comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from xalign.compose import Composed
from xalign.errors import XalignError


@dataclass
class TeacherLoss:
    """The training loss and its two parts (detached, for the logs)."""

    total: torch.Tensor
    nll: float
    match: float


def after_inputs(composed: Composed) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index, mask)``, both ``[B, P]``: the positions after each (right-padded) row's last
    input token, up to the row's end."""
    media = composed.media_mask
    positions = torch.arange(media.shape[1], device=media.device)
    start = torch.where(media, positions, -1).max(dim=1).values + 1
    lengths = torch.tensor(composed.lengths, device=media.device)
    count = lengths - start
    steps = torch.arange(int(count.max()), device=media.device)
    mask = steps[None] < count[:, None]
    index = (start[:, None] + steps[None]).clamp(max=media.shape[1] - 1)
    return index, mask


def gather_positions(states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``states[b, index[b, p]]`` as ``[B, P, d]``."""
    return states.gather(1, index[..., None].expand(-1, -1, states.shape[-1]))


# The teacher reads text only, and a synthetic item's text is the same every epoch: while the
# LLM is frozen its states are kept, up to this many bytes (a 960-item tiny run needs ~1.3 GB)
# and recomputed beyond. Epochs after the first then cost the student's passes only.
KEEP_BYTES = 1_600_000_000


class CaptionTeacher:
    """``loss(examples)``: answer NLL plus ``weight`` × the hidden-state match (module doc)."""

    def __init__(self, model: Any, weight: float, keep_bytes: int = KEEP_BYTES) -> None:
        if weight <= 0:
            raise ValueError(f"the caption teacher's weight must be > 0, got {weight}")
        self.model, self.weight, self.keep_bytes = model, weight, keep_bytes
        self._kept: dict[tuple, torch.Tensor] = {}
        self._kept_bytes = 0

    def texts(self, examples: Sequence[Any]) -> list[Any]:
        """Each example as the teacher reads it: captions in the input slots."""
        from xalign.llm.stage_texts import TextExample

        out = []
        for ex in examples:
            if len(ex.captions) != len(ex.media):
                raise XalignError(
                    f"the caption teacher (loss.caption_teacher > 0) needs a caption for each "
                    f"input, but the example {ex.instruction!r} has {len(ex.captions)} for "
                    f"{len(ex.media)} inputs: train on a source with captions (synthetic) or "
                    "set loss.caption_teacher=0")
            inputs = tuple((self.model.cue(m.modality), caption)
                           for m, caption in zip(ex.media, ex.captions, strict=True))
            out.append(TextExample(inputs=inputs, question=ex.instruction, answer=ex.target,
                                   preamble=ex.preamble))
        return out

    @torch.no_grad()
    def states(self, examples: Sequence[Any]) -> list[torch.Tensor]:
        """The teacher's states after the inputs of each example, ``[positions, layers, d]``:
        kept ones where the same text was read before, the others in one LLM call."""
        from xalign.llm.stage_texts import compose_text

        model = self.model
        device = model.device.type
        keep = not any(p.requires_grad for p in model.language_model.parameters())
        precision = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        texts = self.texts(examples)
        keys = [(text, precision) for text in texts]
        found: dict[int, torch.Tensor] = {
            i: self._kept[key] for i, key in enumerate(keys) if keep and key in self._kept}
        missing = [i for i in range(len(texts)) if i not in found]
        if missing:
            teacher = compose_text(model.composer, model.language_model.get_input_embeddings(),
                                   [texts[i] for i in missing], with_targets=True)
            taught = model.run_llm(teacher, hidden_states=True).hidden_states[1:]
            index, mask = after_inputs(teacher)
            stacked = torch.stack([gather_positions(h, index) for h in taught], dim=2)
            for row, i in enumerate(missing):
                found[i] = stacked[row, :int(mask[row].sum())].clone()
                size = found[i].numel() * found[i].element_size()
                if keep and self._kept_bytes + size <= self.keep_bytes:
                    self._kept[keys[i]] = found[i]
                    self._kept_bytes += size
        return [found[i] for i in range(len(texts))]

    def loss(self, examples: Sequence[Any]) -> TeacherLoss:
        model = self.model
        student = model.compose(examples)
        run = model.run_llm(student, hidden_states=True)
        nll = run.nll.sum() / run.counted.sum().clamp(min=1)
        taught = self.states(examples)
        s_index, s_mask = after_inputs(student)
        if [int(n) for n in s_mask.sum(1)] != [len(t) for t in taught]:
            # the same text follows the slot in both
            raise XalignError("caption teacher: the text after the inputs differs between the "
                              "projected and the captioned example")
        target = torch.nn.utils.rnn.pad_sequence(taught, batch_first=True)  # [B, P, layers, d]
        weights = s_mask.float() / s_mask.sum()
        match = torch.zeros((), device=nll.device)
        layers = run.hidden_states[1:]
        for layer, h_student in enumerate(layers):
            a = gather_positions(h_student, s_index).float()
            b = target[:, :, layer].float()
            error = (a - b).pow(2).sum(-1) / b.pow(2).sum(-1).clamp_min(1e-6)
            match = match + torch.where(s_mask, error * weights, 0.0).sum()
        match = match / len(layers)
        return TeacherLoss(nll + self.weight * match, float(nll.detach()), float(match.detach()))
