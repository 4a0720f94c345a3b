"""The one contract every modality plugin fulfils.

A plugin is data plus a few functions: it builds a :class:`Modality` and hands
it to the host through the ``register_modalities`` hook. The core never names a
modality; everything modality-specific lives behind this dataclass.

Shapes (see DESIGN.md §1):

* ``load(path) -> raw``: decode a file into the plugin's raw type (a PIL image,
  a list of frames, a waveform, a point array…). Raises :class:`MediaError`.
* ``preprocess(raw, train) -> Tensor[F, ...]``: the encoder input for one item.
  ``F`` is the number of *frames* the item is split into (1 for an image,
  5 video frames, 2 audio windows). Frame-wise items are encoded and projected
  per frame and the projected tokens are concatenated.
* ``build_encoder(source) -> FrozenEncoder``: ``source`` is ``None`` or ``"tiny"``
  (the built-in tiny seeded encoder), the ``encoder_id`` that encoder records (a
  trained projector names its encoder by it, and the core rebuilds the encoder from it),
  a hub id or a local path. The encoder maps
  ``Tensor[N, ...]`` (``N`` = batch × frames) to features ``Tensor[N, T, d]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from xalign.encoders.frozen import FrozenEncoder

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class ProjectorDefaults:
    """Projector settings a modality recommends; recipes may override every field."""

    kind: str = "qformer"
    num_query_tokens: int = 32
    prompt: str | None = None  # fixed Q-Former prompt; None means "use the instruction"


@dataclass(frozen=True)
class SyntheticSample:
    """One item of the offline synthetic world.

    ``raw`` has the type ``Modality.load`` returns, so it can go straight into
    ``preprocess``. ``attributes`` are categorical labels (closed vocabularies in
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
    preprocess: Callable[[Any, bool], torch.Tensor]
    build_encoder: Callable[[str | None], FrozenEncoder]
    feature_dim: int  # of the default (built-in tiny) encoder
    synthesize: Callable[[int], SyntheticSample]
    write: Callable[[Any, Path], Path]  # save a raw item; returns the path with its extension
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    projector: ProjectorDefaults = field(default_factory=ProjectorDefaults)
    frames: int = 1
    encoders: tuple[str, ...] = ("tiny",)
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
    for attr in ("load", "preprocess", "build_encoder", "synthesize", "write"):
        if not callable(getattr(modality, attr)):
            problems.append(f"{attr} must be callable")
    if not isinstance(modality.feature_dim, int) or modality.feature_dim <= 0:
        problems.append("feature_dim must be a positive int")
    if not isinstance(modality.frames, int) or modality.frames <= 0:
        problems.append("frames must be a positive int")
    return problems
