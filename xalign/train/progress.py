"""Progress of a run that can be followed anywhere, and the wall clock of its stages.

On a terminal: a rich bar per stage (featurising i/N, training, evaluating). Anywhere else
(stdout sent to a file: CI, ``nohup``, a cluster job): plain lines, one at every stage
change and at most one every ``interval`` seconds within a stage (``XALIGN_PROGRESS_EVERY``,
default 30), each with the stage, i/N, loss, lr, samples/s, elapsed time and ETA::

    [12:00:31] training 40/200 (20%) | loss 1.2345 | lr 1.00e-02 | 7.9 samples/s | 1m02s, ETA 4m10s
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

DEFAULT_INTERVAL = 30.0


def progress_interval(env: dict[str, str] | None = None) -> float:
    """Seconds between plain progress lines: ``XALIGN_PROGRESS_EVERY`` or 30."""
    raw = (os.environ if env is None else env).get("XALIGN_PROGRESS_EVERY", "")
    try:
        return max(0.0, float(raw)) if raw.strip() else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


def duration(seconds: float) -> str:
    """``75.2`` -> ``"1m15s"``; ``3725`` -> ``"1h02m"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class StageClock:
    """Wall time of a run, in total and per stage (``with clock.stage("train"): …``).

    A stage opened inside another (validation during training) pauses the outer one, so
    the stages add up to the time they cover.
    """

    def __init__(self, started: float | None = None) -> None:
        self.started = time.perf_counter() if started is None else started
        self.seconds: dict[str, float] = {}
        self._open: list[list[Any]] = []  # [name, since]

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        now = time.perf_counter()
        if self._open:
            outer = self._open[-1]
            self.add(outer[0], now - outer[1])
        self._open.append([name, now])
        try:
            yield
        finally:
            end = time.perf_counter()
            inner = self._open.pop()
            self.add(inner[0], end - inner[1])
            if self._open:
                self._open[-1][1] = end

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def total(self) -> float:
        return time.perf_counter() - self.started


class RunProgress:
    """Stage-aware progress: ``start(stage, total)``, then ``update(done, **fields)``.

    ``plain`` (default: the console is not a terminal) prints lines instead of bars.
    Disabled (a no-op) when ``enabled`` is False, e.g. on non-main processes or in tests.
    """

    def __init__(self, console: Console | None = None, enabled: bool = True,
                 plain: bool | None = None, interval: float | None = None) -> None:
        self.console = console or Console()
        self.enabled = enabled
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self.interval = progress_interval() if interval is None else interval
        self.bars: Progress | None = None
        self.name, self.total, self.first = "", 0, 0
        self.fields: dict[str, Any] = {}
        self.started = self.last_line = 0.0

    # -- stages ------------------------------------------------------------------------------
    def start(self, name: str, total: int, done: int = 0) -> None:
        """A new stage of ``total`` units, ``done`` of them already done (a resumed run)."""
        if not self.enabled:
            return
        self._close_bars()
        self.name, self.total, self.first, self.fields = name, total, done, {}
        self.started = time.perf_counter()
        if self.plain:
            self._line(done, first=True)
            return
        self.bars = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=self.console, transient=False)
        self.task = self.bars.add_task(name, total=total, completed=done, info="")
        self.bars.start()

    def update(self, done: int, **fields: Any) -> None:
        """``done`` units of the stage; ``fields``: loss, lr, sps (samples/s), val…"""
        if not self.enabled:
            return
        self.fields.update({k: v for k, v in fields.items() if v is not None})
        if self.bars is not None:
            self.bars.update(self.task, completed=done, info=self._info())
        elif self.plain and (time.perf_counter() - self.last_line >= self.interval
                             or done >= self.total):
            self._line(done)

    def finish(self) -> None:
        """End the stage (its bar stays on screen)."""
        self._close_bars()
        self.name = ""

    def message(self, text: str) -> None:
        """A line above the bars (or in the log)."""
        if self.enabled:
            self.console.print(text)

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close_bars()

    # -- rendering ---------------------------------------------------------------------------
    def _close_bars(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None

    def _info(self) -> str:
        f, parts = self.fields, []
        if "loss" in f:
            parts.append(f"loss {f['loss']:.4f}")
        if "lr" in f:
            parts.append(f"lr {f['lr']:.2e}")
        if "sps" in f:
            parts.append(f"{f['sps']:.1f} samples/s")
        if "val" in f:
            parts.append(str(f["val"]))
        return " | ".join(parts)

    def _line(self, done: int, first: bool = False) -> None:
        now = time.perf_counter()
        elapsed = now - self.started
        share = f" ({done / self.total:.0%})" if self.total else ""
        text = f"[{time.strftime('%H:%M:%S')}] {self.name} {done}/{self.total}{share}"
        info = self._info()
        if info:
            text += f" | {info}"
        if not first:
            rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - done) / rate if rate > 0 else float("nan")
            text += f" | {duration(elapsed)}"
            if done < self.total and eta == eta:  # not NaN
                text += f", ETA {duration(eta)}"
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.last_line = now


class ProgressSet:
    """A data set that reports each item it is asked for (evaluation progress)."""

    def __init__(self, dataset: Any, progress: RunProgress, check: Any = None) -> None:
        self.dataset, self.progress, self.check = dataset, progress, check

    def __len__(self) -> int:
        return len(self.dataset)

    def item(self, index: int) -> Any:
        if self.check is not None:
            self.check()
        self.progress.update(index + 1)
        return self.dataset.item(index)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getattr__(self, name: str) -> Any:  # max_chance, encoders, … of the wrapped set
        return getattr(self.dataset, name)
