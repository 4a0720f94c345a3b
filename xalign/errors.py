"""Exception types raised by xalign.

Every error a user can cause (bad media, unknown names, missing plugins, bad
checkpoints) is an :class:`XalignError` with a message that says what to do.
The CLI prints these without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class XalignError(Exception):
    """Base class for every error xalign raises on purpose."""


class MediaError(XalignError):
    """A media file could not be loaded or preprocessed.

    Always names the file and the reason, so a data pipeline can skip the file,
    count it, and list it in its report.
    """

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else "<in-memory>"
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class EnvironmentFault(XalignError):
    """A system library or decoder that a plugin needs is missing or cannot load.

    A fault of the machine, not of the data: deliberately *not* a :class:`MediaError`,
    so no data pipeline counts it as a bad file. Raised at plugin use or run start
    with one line that says the fix (``apt-get install …`` / ``pip install …``).
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        # one string argument also works, so re-raising by type (DataLoader workers) keeps it
        self.fix = fix
        text = " ".join(message.split())
        super().__init__(f"{text}; fix: {fix}" if fix else text)


class UnknownNameError(XalignError, KeyError):
    """A name (modality, projector kind, recipe key…) is not one of the valid choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str], hint: str = "") -> None:
        self.kind, self.name = kind, name
        self.choices = sorted(set(choices))
        message = f"unknown {kind} {name!r}"
        close = closest(name, self.choices)
        if close:
            message += f"; did you mean {close!r}?"
        message += f" choices: {', '.join(self.choices) if self.choices else '(none)'}"
        if hint:
            message += f". {hint}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class PluginNotInstalledError(XalignError):
    """A catalogued modality was requested but its distribution is not installed."""

    def __init__(self, modality: str, distribution: str) -> None:
        self.modality, self.distribution = modality, distribution
        super().__init__(
            f"modality {modality!r} is not installed; install it with: pip install {distribution}"
        )


class PluginBrokenError(XalignError):
    """A plugin is installed but failed to import or registered something invalid."""

    def __init__(self, modality_or_plugin: str, reason: str) -> None:
        self.name, self.reason = modality_or_plugin, reason
        super().__init__(f"plugin {modality_or_plugin!r} is broken: {reason}")


class CheckpointError(XalignError):
    """A checkpoint or projector directory is missing files, corrupt, or incompatible."""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """Return the closest valid choice to ``name`` or ``None`` when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None
