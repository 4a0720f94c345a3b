"""Instruction templates for the synthetic and manifest tasks: caption, QA and classification.

Each task has several phrasings; which one an item gets is a deterministic function of
a key (seed, split, index…), so a data set reads the same on every run and machine.
Phrasings never name a modality unless through ``{noun}``, derived from the plugin's
cue, so they work for any plugin; attribute questions work for any attribute name.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

from xalign.errors import UnknownNameError
from xalign.modality import Modality

from .items import TrainItem

TASKS = ("caption", "qa", "classify")

CAPTION = (
    "Describe the {noun}.",
    "What is this?",
    "A short description.",
    "Write a short caption for this {noun}.",
    "Describe the {noun} in one sentence.",
    "What does this {noun} contain?",
    "Give a brief description of the input.",
    "Summarise what you perceive.",
)

QUESTION = (
    "What is the {attribute} of this {noun}?",
    "What {attribute} is it?",
    "Which {attribute} does the {noun} have?",
    "Tell me the {attribute} of the input.",
    "What is its {attribute}?",
)

YES_NO = (
    "Is the {attribute} {value}?",
    "Is the {attribute} of this {noun} {value}?",
    "Is its {attribute} {value}? Answer yes or no.",
)

CLASSIFY = (
    "Which {attribute} is it? Options: {options}.",
    "Classify the {noun} by {attribute}: {options}.",
    "Choose the {attribute} of this {noun} from: {options}.",
    "What is the {attribute}? Answer with one of: {options}.",
    "Which {attribute} is it?",
)

# Text that may stand beside an input in training (``data.context_share``, off by default):
# general sentences that name no modality, attribute or value. Composed, an input follows
# other text, and one such sentence before it costs every projector accuracy (20-30 points,
# bench/read_beside_text.py); training with these did not close that gap and composed worse
# (README, "Read beside other text"), so it stays an option.
CONTEXT = (
    "Here is an input.",
    "Please read carefully.",
    "Look at the following.",
    "Consider what comes next.",
    "The next part is the input.",
    "This is part of a longer conversation.",
    "Answer the question about the input.",
    "Keep your answer short.",
    "Thank you for your help.",
    "Some context comes first.",
    "There may be more than one thing to look at.",
    "Read everything before answering.",
)


def rng_for(*parts: Any) -> random.Random:
    """A :class:`random.Random` seeded from ``parts`` (stable across processes and machines)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def noun_of(modality: Modality) -> str:
    """The templates' word for an input: the cue without its colon (" audio: " -> "audio")."""
    noun = modality.cue.strip().rstrip(":").strip()
    return noun or modality.name


def attribute_words(attribute: str) -> str:
    return attribute.replace("_", " ")


def caption_instruction(modality: Modality, rng: random.Random) -> str:
    return rng.choice(CAPTION).format(noun=noun_of(modality))


def question(modality: Modality, attribute: str, value: str, rng: random.Random,
             yes_no: bool = True) -> tuple[str, str, bool]:
    """An attribute question, its answer, and whether it is a yes/no question."""
    vocabulary = [v for v in modality.attributes.get(attribute, ()) if v != value]
    words = attribute_words(attribute)
    if yes_no and vocabulary and rng.random() < 0.3:
        asked = value if rng.random() < 0.5 else rng.choice(vocabulary)
        text = rng.choice(YES_NO).format(attribute=words, noun=noun_of(modality), value=asked)
        return text, "yes" if asked == value else "no", True
    return rng.choice(QUESTION).format(attribute=words, noun=noun_of(modality)), value, False


def with_context(instruction: str, rng: random.Random) -> tuple[str, str]:
    """``(preamble, instruction)``: one :data:`CONTEXT` sentence as the preamble (before the
    input) or between the input and the instruction, at even odds."""
    sentence = rng.choice(CONTEXT)
    if rng.random() < 0.5:
        return sentence, instruction
    return "", f"{sentence}\n{instruction}"


def classify_instruction(modality: Modality, attribute: str, candidates: Sequence[str],
                         rng: random.Random) -> str:
    options = list(candidates)
    rng.shuffle(options)  # option order must carry no signal
    return rng.choice(CLASSIFY).format(attribute=attribute_words(attribute),
                                       noun=noun_of(modality), options=", ".join(options))


def concrete_tasks(modality: Modality, attributes: Mapping[str, str],
                   tasks: Sequence[str] = TASKS) -> list[str]:
    """Expand ``tasks`` into one task per attribute: ``["caption", "qa:colour", ...]``.

    ``classify`` only covers attributes with a closed vocabulary in ``modality.attributes``.
    """
    out: list[str] = []
    for task in tasks:
        base, _, attr = task.partition(":")
        if base == "caption":
            out.append("caption")
        elif base in ("qa", "classify"):
            names = [attr] if attr else sorted(attributes)
            out += [f"{base}:{a}" for a in names
                    if a in attributes and (base == "qa" or a in modality.attributes)]
        else:
            raise UnknownNameError("task", task, TASKS)
    return out


def make_item(modality: Modality, item_id: str, media: Any, caption: str,
              attributes: Mapping[str, str], task: str, key: Any,
              yes_no: bool = True) -> TrainItem:
    """Build the :class:`TrainItem` of one concrete ``task`` ("caption", "qa:<a>", "classify:<a>").

    A bare "qa" or "classify" picks the attribute from ``key``; either falls back to a caption
    when the modality has no usable attribute. ``key`` fixes every random choice;
    ``yes_no=False`` keeps QA to open questions whose answer is the attribute value.
    """
    rng = rng_for("template", key, task)
    base, _, attr = task.partition(":")
    if base in ("qa", "classify") and not attr:
        choices = concrete_tasks(modality, attributes, (base,))
        task = rng.choice(choices) if choices else "caption"
        base, _, attr = task.partition(":")
    common = {"id": item_id, "media": [(modality.name, media)], "attributes": dict(attributes),
              "captions": (caption,)}
    if base == "caption":
        return TrainItem(instruction=caption_instruction(modality, rng), target=caption,
                         task="caption", **common)
    if attr not in attributes:
        raise KeyError(f"item {item_id!r} has no attribute {attr!r} for task {task!r}; "
                       f"attributes: {', '.join(sorted(attributes)) or '(none)'}")
    value = str(attributes[attr])
    candidates = tuple(modality.attributes.get(attr, ()))
    if base == "qa":
        text, answer, asked_yes_no = question(modality, attr, value, rng, yes_no)
        return TrainItem(instruction=text, target=answer, task=task,
                         candidates=("yes", "no") if asked_yes_no else candidates,
                         **common)
    if base == "classify":
        return TrainItem(instruction=classify_instruction(modality, attr, candidates, rng),
                         target=value, task=task, candidates=candidates, **common)
    raise UnknownNameError("task", task, TASKS)
