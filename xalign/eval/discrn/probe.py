"""A diagnostic next to DisCRn: does each projector carry what the question asks about?

For mini-DisCRn attribute questions ("Which one is red?" asks about colour = red), each
input is shown *alone* with the question format the projectors were trained on ("What is
the colour of this video?") and the LLM loss of the asked value ("red") is computed; the
input where the value is likelier is the answer. The comparison happens outside the LLM,
so this separates "the projectors lost the information" from "the LLM cannot compare two
inputs": a high probe score with a DisCRn score at chance (and a caption baseline at
chance too) points at the LLM. Quantity questions have no probe and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xalign.data.templates import noun_of
from xalign.eval.discrn.run import RANK_ANSWERS, Prepared
from xalign.model import Example
from xalign.ranking import rank_losses
from xalign.registry import get_registry

SYSTEM = "per-input probe"
QUESTION = "What is the {attribute} of this {noun}?"


def probe_answers(model: Any, prepared: Sequence[Prepared]) -> dict[str, str]:
    """``id -> "The first one." / "The second one."`` for the examples that carry a probe."""
    registry = get_registry()
    asked, examples, values = [], [], []
    for p in prepared:
        probe = p.example.extra.get("probe")
        if not probe:
            continue
        attribute, value = probe
        asked.append(p)
        for media in p.media:
            question = QUESTION.format(attribute=attribute.replace("_", " "),
                                       noun=noun_of(registry.get(media.modality)))
            examples.append(Example(media=[media], instruction=question))
            values.append([value])
    losses = [float(loss[0]) for loss in rank_losses(model, examples, values)]
    return {p.example.id: RANK_ANSWERS[0 if first <= second else 1]
            for p, first, second in zip(asked, losses[::2], losses[1::2], strict=True)}
