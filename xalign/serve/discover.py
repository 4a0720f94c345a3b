"""Finding saved projectors: directories given on the command line and those under ``runs/``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xalign.errors import XalignError


@dataclass(frozen=True)
class ProjectorChoice:
    """A saved projector the page offers: where it is and what it reads."""

    path: Path
    modality: str
    llm_id: str

    @property
    def label(self) -> str:
        return f"{self.modality} · {self.path}"


def read_choice(directory: str | Path) -> ProjectorChoice:
    """The choice for one projector directory; raises :class:`XalignError` if it is not one."""
    from xalign.projectors import read_config

    config = read_config(directory)
    return ProjectorChoice(Path(directory), config.modality, config.llm_id or "smollm2")


def find_projectors(root: str | Path) -> list[ProjectorChoice]:
    """Final projectors under ``root`` (``<run>/projector``, ``<run>/<modality>``…), sorted by
    path. Intermediate checkpoints and unreadable directories are left out."""
    from xalign.projectors.io import CONFIG_NAME, WEIGHTS_NAME

    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for config in sorted(root.rglob(CONFIG_NAME)):
        directory = config.parent
        if "checkpoints" in directory.relative_to(root).parts:
            continue
        if not (directory / WEIGHTS_NAME).is_file():
            continue
        try:
            found.append(read_choice(directory))
        except XalignError:  # another tool's config.json (a run's LLM, a tokenizer…)
            continue
    return found


def gather(paths: Iterable[str | Path], roots: Iterable[str | Path]) -> list[ProjectorChoice]:
    """Projectors given as paths (each must be one) followed by those found under ``roots``,
    without duplicates."""
    choices = [read_choice(p) for p in paths]
    for root in roots:
        choices.extend(find_projectors(root))
    unique: dict[Path, ProjectorChoice] = {}
    for choice in choices:
        unique.setdefault(choice.path.resolve(), choice)
    return list(unique.values())
