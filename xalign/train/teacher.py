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


class CaptionTeacher:
    """``loss(examples)``: answer NLL plus ``weight`` × the hidden-state match (module doc)."""

    def __init__(self, model: Any, weight: float) -> None:
        if weight <= 0:
            raise ValueError(f"the caption teacher's weight must be > 0, got {weight}")
        self.model, self.weight = model, weight

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

    def loss(self, examples: Sequence[Any]) -> TeacherLoss:
        from xalign.llm.stage_texts import compose_text

        model = self.model
        student = model.compose(examples)
        run = model.run_llm(student, hidden_states=True)
        nll = run.nll.sum() / run.counted.sum().clamp(min=1)
        with torch.no_grad():
            teacher = compose_text(model.composer, model.language_model.get_input_embeddings(),
                                   self.texts(examples), with_targets=True)
            taught = model.run_llm(teacher, hidden_states=True).hidden_states
        s_index, s_mask = after_inputs(student)
        t_index, t_mask = after_inputs(teacher)
        if not torch.equal(s_mask, t_mask):  # the same text follows the slot in both
            raise XalignError("caption teacher: the text after the inputs differs between the "
                              "projected and the captioned example")
        weights = s_mask.float() / s_mask.sum()
        match = torch.zeros((), device=nll.device)
        layers = list(zip(run.hidden_states[1:], taught[1:], strict=True))
        for h_student, h_teacher in layers:
            a = gather_positions(h_student, s_index).float()
            b = gather_positions(h_teacher, t_index).float()
            error = (a - b).pow(2).sum(-1) / b.pow(2).sum(-1).clamp_min(1e-6)
            match = match + (error * weights).sum()
        match = match / len(layers)
        return TeacherLoss(nll + self.weight * match, float(nll.detach()), float(match.detach()))
