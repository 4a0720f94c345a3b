"""Publishing a cache entry built in a temporary folder, safely against crashes and races."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def publish_directory(tmp: Path, directory: Path, is_complete: Callable[[Path], bool]) -> None:
    """Rename the finished ``tmp`` to ``directory`` atomically.

    A leftover under the final name that is not a complete entry is moved aside and removed
    first (it can never be valid); when another process published a complete entry first,
    ``tmp`` is dropped and theirs is kept. Readers therefore see no entry or a whole one.
    """
    if directory.exists() and not is_complete(directory):
        # move the junk aside first (atomic), so that two writers never delete each
        # other's work: whoever loses the race finds nothing to move
        junk = directory.with_name(f"{directory.name}.junk-{os.getpid()}-{uuid.uuid4().hex}")
        try:
            os.rename(directory, junk)
        except FileNotFoundError:
            pass
        else:
            shutil.rmtree(junk, ignore_errors=True)
    try:
        os.rename(tmp, directory)
    except OSError:
        if not is_complete(directory):  # not a concurrent writer that won the race
            raise
        shutil.rmtree(tmp, ignore_errors=True)
