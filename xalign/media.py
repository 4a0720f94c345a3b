"""Checks shared by every plugin's loader, so each failure reads the same way."""

from __future__ import annotations

from pathlib import Path

from xalign.errors import MediaError


def check_file(path: str | Path, extensions: tuple[str, ...]) -> Path:
    """Return ``path`` as a :class:`Path` after the checks every loader needs.

    Raises :class:`MediaError` for a missing file, a directory, an empty file
    or an extension this modality does not read.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if path.suffix.lower() not in extensions:
        raise MediaError(
            path, f"unsupported extension {path.suffix or '(none)'!r}; expected one of "
            + ", ".join(extensions)
        )
    return path
