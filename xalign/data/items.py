"""What a data source yields: :class:`TrainItem`, one supervised example before featurisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass
class TrainItem:
    """One supervised example: media inputs, an instruction and the answer to learn.

    ``media`` holds ``(modality name, obj)`` pairs in input order, where ``obj`` is a
    :class:`~pathlib.Path` to a file or a raw object of the type ``Modality.load``
    returns (synthetic items are raw). ``task`` is ``"caption"``, ``"qa"``,
    ``"classify:<attribute>"`` or free text from a manifest; ``candidates`` is the
    closed vocabulary of classification-style items (used by ranking evaluation).
    ``captions`` holds a true description of each input when the source has one (the
    synthetic world's captions), for the caption teacher (:mod:`xalign.train.teacher`).
    """

    id: str
    media: list[tuple[str, Any]]
    instruction: str
    target: str
    task: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()

    def media_paths(self) -> list[str]:
        """The file paths among the media (raw in-memory inputs are skipped)."""
        return [str(obj) for _, obj in self.media if isinstance(obj, (str, Path))]


@runtime_checkable
class Source(Protocol):
    """An indexable, deterministic, cheap-to-construct collection of :class:`TrainItem`."""

    name: str

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> TrainItem: ...


def check_index(i: int, size: int, name: str) -> int:
    """Normalise a possibly negative index and raise ``IndexError`` out of range."""
    if not isinstance(i, int):
        raise TypeError(f"{name}: index must be an int, got {type(i).__name__}")
    if i < 0:
        i += size
    if not 0 <= i < size:
        raise IndexError(f"{name}: index {i} out of range for {size} items")
    return i
