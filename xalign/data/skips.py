"""Bad-media accounting: which items were skipped, why, and what fraction of the data that is."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from xalign.errors import EnvironmentFault, MediaError, XalignError


@dataclass(frozen=True)
class Skip:
    """One skipped item."""

    item_id: str
    path: str
    reason: str


class SkipReport:
    """Counts items seen and skipped; the trainer adds a :class:`MediaError` per skipped item.

    ``seen`` counts every item the pipeline tried (call :meth:`mark_seen`), so that
    ``fraction`` is the share of the data that could not be used.
    """

    def __init__(self) -> None:
        self.skips: list[Skip] = []
        self.seen = 0

    def mark_seen(self, n: int = 1) -> None:
        """Count ``n`` more items tried (skipped or not)."""
        self.seen += n

    def add(self, item_id: str, path: str, reason: str) -> None:
        """Record one skipped item with the file at fault and the reason."""
        self.skips.append(Skip(str(item_id), str(path), str(reason)))

    def add_error(self, item_id: str, error: MediaError) -> None:
        """Record a :class:`MediaError` raised while featurising ``item_id``.

        A missing library or decoder is never a bad file: an :class:`EnvironmentFault`,
        passed here or found in the error's cause chain (a wrapper turned it into a
        MediaError), is raised instead of counted.
        """
        fault = environment_fault(error)
        if fault is not None:
            raise fault
        self.add(item_id, error.path, error.reason)

    @property
    def count(self) -> int:
        return len(self.skips)

    @property
    def fraction(self) -> float:
        """Skipped / seen (0.0 before anything was seen)."""
        return self.count / self.seen if self.seen else 0.0

    def check(self, max_fraction: float) -> None:
        """Raise :class:`XalignError` when more than ``max_fraction`` of the items were skipped."""
        if self.seen and self.fraction > max_fraction:
            first = self.skips[0]
            raise XalignError(
                f"{self.count} of {self.seen} items ({self.fraction:.1%}) had unreadable media, "
                f"more than the allowed {max_fraction:.1%}; first: {first.path}: {first.reason}"
            )

    def write_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per skipped item (``item_id``, ``path``, ``reason``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for skip in self.skips:
                f.write(json.dumps(asdict(skip), ensure_ascii=False) + "\n")
        return path

    def summary(self) -> str:
        return f"skipped {self.count} of {self.seen} items ({self.fraction:.2%})"


def environment_fault(error: BaseException) -> EnvironmentFault | None:
    """The :class:`EnvironmentFault` that ``error`` is or was caused by, else ``None``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, EnvironmentFault):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
