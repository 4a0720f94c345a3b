"""A conversation over media, and its mapping onto one :class:`~xalign.model.Example`.

The composer has no multi-turn API: every answer is generated from one example whose media
are all the inputs attached so far, in upload order, and whose instruction carries the
earlier turns as text. A first turn is the bare question, as ``xalign generate`` sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HISTORY_HEADER = "Earlier turns of this conversation (inputs are numbered in the order given):"


@dataclass(frozen=True)
class Attachment:
    """An uploaded file and the modality it is read as."""

    path: Path
    modality: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Turn:
    """One question, the inputs attached with it, and the answer."""

    question: str
    media: list[Attachment]
    answer: str


@dataclass
class Conversation:
    """The turns so far, the inputs waiting for the next question, and what the page shows
    (``messages``: gradio's ``{"role", "content"}`` dicts, notices included)."""

    turns: list[Turn] = field(default_factory=list)
    pending: list[Attachment] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)

    def media(self) -> list[Attachment]:
        """Every input in upload order: earlier turns' first, then the pending ones."""
        return [a for t in self.turns for a in t.media] + self.pending

    def attach(self, attachment: Attachment) -> None:
        self.pending.append(attachment)
        self.say("user", f"[{attachment.modality}] {attachment.name}")

    def drop(self, attachment: Attachment) -> None:
        """Forget a pending input (it failed to featurize)."""
        self.pending = [a for a in self.pending if a != attachment]

    def record(self, question: str, answer: str) -> None:
        """Close a turn: the pending inputs belong to it from now on."""
        self.turns.append(Turn(question, self.pending, answer))
        self.pending = []
        self.say("user", question)
        self.say("assistant", answer)

    def notice(self, text: str) -> None:
        """A message for the user that is not part of the dialogue the LLM reads."""
        self.say("assistant", f"⚠ {text}")

    def say(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})


def _refs(first: int, media: Sequence[Attachment]) -> str:
    if not media:
        return ""
    inputs = ", ".join(f"input {first + i}: {a.modality}" for i, a in enumerate(media))
    return f" [{inputs}]"


def build_instruction(turns: Sequence[Turn], question: str, pending: Sequence[Attachment] = (),
                      max_turns: int = 4) -> str:
    """The instruction text: the bare question on a first turn; otherwise the last
    ``max_turns`` turns (question, inputs sent with it, answer) and then the question."""
    if not turns:
        return question
    numbers, first = [], 1
    for turn in turns:
        numbers.append(first)
        first += len(turn.media)
    lines = [HISTORY_HEADER]
    for turn, number in list(zip(turns, numbers, strict=True))[-max_turns:]:
        lines.append(f"User{_refs(number, turn.media)}: {turn.question}")
        lines.append(f"Assistant: {turn.answer}")
    lines.append(f"Current question{_refs(first, pending)}: {question}")
    return "\n".join(lines)


def to_example(conversation: Conversation, question: str, features: Sequence[Any],
               *, max_turns: int = 4, fixed_qformer_prompt: bool = False) -> Any:
    """The :class:`~xalign.model.Example` for ``question``: ``features`` are the
    :class:`~xalign.model.MediaFeatures` of ``conversation.media()``, in that order. With
    history, the Q-Former reads the question alone unless a projector has a fixed prompt."""
    from xalign.model import Example

    media = conversation.media()
    if len(features) != len(media):
        raise ValueError(f"{len(features)} features for {len(media)} inputs")
    for item, attachment in zip(features, media, strict=True):
        if item.modality != attachment.modality:
            raise ValueError(f"features of {item.modality!r} for the {attachment.modality} "
                             f"input {attachment.name}")
    instruction = build_instruction(conversation.turns, question, conversation.pending,
                                    max_turns)
    qformer = None if fixed_qformer_prompt or instruction == question else question
    return Example(list(features), instruction, qformer_prompt=qformer)
