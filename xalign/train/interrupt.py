"""Ctrl-C and SIGTERM during training: finish the step, checkpoint, say how to resume, exit.

The handler only records the signal; the trainer stops at the next step boundary (or at
the next item of featurising / evaluation), writes a checkpoint, prints the command that
resumes the run and raises :class:`TrainingInterrupted`, a ``SystemExit`` with the
conventional status 128 + signal (130 for SIGINT, 143 for SIGTERM). A second Ctrl-C while
the checkpoint is written stops at once (``KeyboardInterrupt``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any


class TrainingInterrupted(SystemExit):
    """A run stopped by a signal: ``code`` is 128 + the signal number."""

    def __init__(self, signum: int, checkpoint: Path | None = None,
                 resume_command: str | None = None) -> None:
        super().__init__(128 + signum)
        self.signum, self.checkpoint, self.resume_command = signum, checkpoint, resume_command


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def set_handler(signals: Iterable[int], handler: Callable[[int, FrameType | None], Any]
                ) -> Callable[[], None]:
    """Install ``handler`` for ``signals``; returns what puts the previous handlers back.
    Only the main thread may set handlers: elsewhere nothing changes. A previous handler
    Python did not set (``None``) comes back as the default."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, handler) for sig in signals}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)
        previous.clear()

    return restore


class StopSignals:
    """``with StopSignals() as stop:`` … ``stop.requested`` holds the first signal received."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: int | None = None
        self._restore: Callable[[], None] = lambda: None

    def _handle(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.requested = signum

    def __enter__(self) -> StopSignals:
        self._restore = set_handler(self.SIGNALS, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._restore()
