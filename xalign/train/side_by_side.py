"""Several trainings at once on one machine's CPU cores, one process per run.

A second core makes a tiny projector's training step only about 1.5x faster (its matrices
are small), so on a CPU two runs side by side, one core each, end sooner than the same two
one after the other. When a run ends, the runs still going take its cores: each one checks
at every step how many runs share the machine (:class:`CoreShare`). Every process loads its
own copy of the frozen LLM and prints its lines behind its label. ``make demo`` trains its
pair of modalities this way (:mod:`xalign.train.demo`).
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch

from xalign.errors import XalignError
from xalign.train.interrupt import set_handler


@dataclass(frozen=True)
class Job:
    """One training run: the label its output lines carry, its recipe, its folder."""

    label: str
    recipe: Any  # xalign.train.recipe.Recipe
    run_dir: Path


class CoreShare:
    """The machine's cores split evenly among the runs going now (a shared counter)."""

    def __init__(self, cores: int, running: Any) -> None:
        self.cores, self.running = cores, running  # running: a multiprocessing Value("i")

    def threads(self) -> int:
        return max(1, self.cores // max(1, self.running.value))

    def apply(self, step: int = 0) -> None:  # noqa: ARG002 (the trainer's per-step hook)
        """Take this run's share now: more threads once another run has ended."""
        wanted = self.threads()
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)


class Labelled:
    """A text stream that writes whole lines, each behind ``label``: the lines of runs that
    print at the same time stay apart and say whose they are."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label, self.partial = stream, label, ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        if lines:
            self.stream.write("".join(f"{self.label}{line}\n" for line in lines))
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        if self.partial:
            self.write("\n")

    def isatty(self) -> bool:
        return False


def _train_one(job: Job, share: CoreShare, results: Any, width: int) -> None:
    """A child process: train ``job`` on its share of the cores and report back."""
    from rich.console import Console

    from xalign.train.interrupt import TrainingInterrupted
    from xalign.train.run import train_recipe

    share.apply()
    label = f"{job.label:<{width}} | "
    console = Console(file=Labelled(sys.stdout, label), width=120 - len(label),
                      force_terminal=False, no_color=True)
    try:
        result = train_recipe(job.recipe, job.run_dir, console=console, on_step=share.apply)
        results.put((job.label, result, None))
    except XalignError as exc:
        results.put((job.label, None, str(exc)))
    except TrainingInterrupted as exc:
        results.put((job.label, None, f"interrupted; resume with: {exc.resume_command}"
                     if exc.resume_command else "interrupted before its first checkpoint"))
    except BaseException as exc:  # any other end of a child is reported too, by name
        results.put((job.label, None, "".join(traceback.format_exception(exc)).rstrip()))
    finally:
        console.file.flush()


def train_side_by_side(jobs: list[Job], cores: int | None = None,
                       console: Any = None) -> dict[str, Any]:
    """Train ``jobs`` at once, at most one per core; returns ``{label: RunResult}``.

    ``cores``: what to share (default: the threads torch would use, one per physical core).
    A run that fails stops the others (each checkpoints on the SIGTERM, as on Ctrl-C) and
    raises :class:`~xalign.errors.XalignError` naming it. A SIGTERM to this process (a job
    scheduler, a CI timeout) is passed on the same way, then it exits with status 143: no
    run is left training on its own. ``console`` hears when a run ends.
    """
    cores = cores or torch.get_num_threads()
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    running = context.Value("i", 0)
    results = context.Queue()
    share = CoreShare(cores, running)
    width = max(len(job.label) for job in jobs)
    pending, active, done = list(jobs), {}, {}
    restore = set_handler([signal.SIGTERM], _raise_terminated)
    try:
        while pending or active:
            while pending and len(active) < max(1, cores):
                job = pending.pop(0)
                with running.get_lock():
                    running.value += 1
                active[job.label] = process = context.Process(
                    target=_train_one, args=(job, share, results, width),
                    name=f"xalign-train-{job.label}")
                process.start()
            label, result, error = _next_report(results, active)
            active.pop(label).join()
            with running.get_lock():
                running.value -= 1
            if error is not None:
                _stop(active)
                raise XalignError(f"training {label} failed: {error}")
            done[label] = result
            if console is not None and active and not pending:  # else a queued run starts
                console.print(f"{label} trained in {result.seconds:.0f} s; "
                              f"{', '.join(active)} now on {share.threads()} core(s)")
    except KeyboardInterrupt:  # Ctrl-C reached the children too: let them checkpoint
        _stop(active, terminate=False)
        raise
    except Terminated as exc:  # only this process heard it: pass it on
        _stop(active)
        raise SystemExit(128 + exc.signum) from None
    finally:
        restore()
    return done


class Terminated(Exception):
    """SIGTERM reached the process that runs the trainings."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, _frame: Any) -> None:
    """SIGTERM's handler here: by default it would end this process at once and leave its
    children training."""
    raise Terminated(signum)


def _next_report(results: Any, active: dict[str, Any]) -> tuple[str, Any, str | None]:
    """The next run's report; a process that ended without one (killed) is reported too."""
    while True:
        try:
            return results.get(timeout=5)
        except queue.Empty:
            pass
        for label, process in active.items():
            if process.exitcode is not None:
                try:  # a report sent just before the end may still be on its way
                    return results.get(timeout=5)
                except queue.Empty:
                    return label, None, (f"its process ended with exit code {process.exitcode} "
                                         "without a report (killed, or out of memory?)")


def _stop(active: dict[str, Any], terminate: bool = True) -> None:
    """End the other runs: SIGTERM makes each checkpoint and exit (xalign.train.interrupt)."""
    active = {label: p for label, p in active.items() if p.pid is not None}  # started ones
    for process in active.values():
        if terminate:
            process.terminate()
    for process in active.values():
        process.join(timeout=120)
        if process.is_alive():
            process.kill()
