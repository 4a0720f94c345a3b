"""A rich progress bar for training: step, loss, learning rate, samples/s and ETA."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainProgress(AbstractContextManager):
    """``with TrainProgress(total, start) as bar: bar.update(step, loss=…, lr=…, sps=…)``.

    Disabled (a no-op) when ``enabled`` is False, e.g. on non-main processes or in tests.
    """

    def __init__(self, total: int, start: int = 0, description: str = "train",
                 console: Console | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        if enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
                TextColumn("{task.fields[sps]} samples/s"), TextColumn("{task.fields[val]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=console, transient=False,
            )
            self.task = self.progress.add_task(description, total=total, completed=start,
                                               loss="-", lr="-", sps="-", val="")

    def __enter__(self) -> TrainProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, step: int, loss: float | None = None, lr: float | None = None,
               sps: float | None = None, val: str | None = None) -> None:
        if self.progress is None:
            return
        fields: dict[str, Any] = {"completed": step}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if lr is not None:
            fields["lr"] = f"{lr:.2e}"
        if sps is not None:
            fields["sps"] = f"{sps:.1f}"
        if val is not None:
            fields["val"] = val
        self.progress.update(self.task, **fields)

    def print(self, message: str) -> None:
        if self.progress is not None:
            self.progress.console.print(message)
