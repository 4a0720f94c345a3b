"""The one contract every modality plugin fulfils.

A plugin is data plus a few functions: it builds a :class:`Modality` and hands
it to the host through the ``register_modalities`` hook, and registers the encoders
that read it through ``register_encoders`` (:class:`xalign.encoders.component.Encoder`).
The core never names a modality; everything modality-specific lives behind these two.

Shapes (see DESIGN.md §1):

* ``load(path) -> raw``: decode a file into the plugin's raw type (a PIL image,
  a list of frames, a waveform, a point array…). Raises :class:`MediaError`.
* the chosen encoder's ``preprocess(raw, train) -> Tensor[F, ...]`` and network
  ``Tensor[N, ...] -> Tensor[N, T, d]``; ``F`` is the number of *frames* an item is
  split into (``frames`` here is what the default encoder produces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class SyntheticSample:
    """One item of the offline synthetic world.

    ``raw`` has the type ``Modality.load`` returns, so it can go straight into an
    encoder's ``preprocess``. ``attributes`` are categorical labels (closed vocabularies in
    ``Modality.attributes``); ``quantities`` are the numbers behind comparative
    questions ("which is larger/louder?").
    """

    raw: Any
    caption: str
    attributes: Mapping[str, str]
    quantities: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Modality:
    """Everything the core needs to know about one input modality."""

    name: str
    cue: str
    extensions: tuple[str, ...]
    load: Callable[[Path], Any]
    write: Callable[[Any, Path], Path]  # save a raw item; returns the path with its extension
    synthesize: Callable[[int], SyntheticSample]
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # how DisCRn asks about an attribute or quantity of this modality, e.g.
    # {"colour": "Which one is {value}?", "loudness": ("Which one is louder?",
    # "Which one is quieter?")}; others get a generic phrasing (xalign.eval.discrn.synth)
    questions: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)
    # attributes an item of another modality certainly lacks (a sound is not red), so that
    # "which one is red?" has one answer across modalities; "small" or "three" may not be
    exclusive: tuple[str, ...] = ()
    frames: int = 1
    encoder: str = "tiny"  # id of the default encoder (registered through register_encoders)
    description: str = ""

    def __post_init__(self) -> None:
        problems = validate_fields(self)
        if problems:
            raise ValueError(f"invalid modality {self.name!r}: " + "; ".join(problems))

    def accepts(self, path: str | Path) -> bool:
        """Whether ``path`` has one of this modality's file extensions."""
        return Path(path).suffix.lower() in self.extensions


def validate_fields(modality: Modality) -> list[str]:
    """List what is wrong with a modality definition (empty when it is valid)."""
    problems = []
    if not isinstance(modality.name, str) or not _NAME.match(modality.name):
        problems.append("name must be lower-case letters, digits or '_'")
    if not isinstance(modality.cue, str) or not modality.cue.strip():
        problems.append("cue must be a non-empty string such as ' audio: '")
    if not modality.extensions or not all(
        isinstance(e, str) and e.startswith(".") and e == e.lower() for e in modality.extensions
    ):
        problems.append("extensions must be lower-case suffixes such as ('.wav', '.flac')")
    for attr in ("load", "synthesize", "write"):
        if not callable(getattr(modality, attr)):
            problems.append(f"{attr} must be callable")
    if not isinstance(modality.frames, int) or modality.frames <= 0:
        problems.append("frames must be a positive int")
    if not isinstance(modality.encoder, str) or not modality.encoder:
        problems.append("encoder must name the default encoder's id, e.g. 'tiny'")
    if not all(isinstance(v, tuple) and v for v in dict(modality.attributes).values()):
        problems.append("attributes must map each name to a non-empty tuple of labels")
    return problems
