"""Checks shared by every plugin's loader, so each failure reads the same way."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from xalign.errors import EnvironmentFault, MediaError

_SHARED_OBJECT = re.compile(r"(lib[\w.+-]*?\.so[.\d]*)")


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


def import_dependency(module: str, *, needed_for: str, pip: str,
                      system_packages: Mapping[str, str] | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`EnvironmentFault` saying how to fix the machine.

    ``system_packages`` maps a shared library's name (``libusb-1.0``) to the Debian
    package that provides it, so a library missing from the system names its
    ``apt-get install`` line; any other import failure names ``pip install {pip}``.
    """
    try:
        __import__(module)  # the builtin, looked up at call time, so tests can hide a module
        return sys.modules[module]
    except (ImportError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        for library, package in (system_packages or {}).items():
            if library in text:
                raise EnvironmentFault(
                    f"{module} (needed for {needed_for}) cannot load: the system library "
                    f"{library} is missing ({text})", f"apt-get install {package}") from exc
        # a C extension whose library is absent: "libfoo.so.1: cannot open shared object file"
        missing = _SHARED_OBJECT.search(text) if "shared object" in text else None
        if missing:
            raise EnvironmentFault(
                f"{module} (needed for {needed_for}) cannot load: the system library "
                f"{missing.group(1)} is missing ({text})",
                f"install the system package that provides {missing.group(1)}") from exc
        absent = getattr(exc, "name", None)  # a dependency of ``module`` may be what is missing
        if isinstance(exc, ModuleNotFoundError) and absent and not absent.startswith(module):
            pip = absent.split(".")[0]
        raise EnvironmentFault(f"{module} (needed for {needed_for}) cannot be imported "
                               f"({type(exc).__name__}: {text})", f"pip install {pip}") from exc


def check_environment(modality: Any) -> None:
    """Run the ``check_environment()`` of the module that defines ``modality.load``, if any.

    Plugins put their system-library and decoder checks there; a run calls this
    before it touches data, so a broken machine stops the run instead of turning
    every file into a "bad file".
    """
    load = modality.load
    target = getattr(load, "target", None)  # a lazy("package.module:load") reference
    name = target.partition(":")[0] if isinstance(target, str) else getattr(load, "__module__", "")
    if not name:
        return
    module = import_dependency(name, needed_for=f"loading {modality.name} files",
                               pip=name.split(".")[0].replace("_", "-"))
    check = getattr(module, "check_environment", None)
    if callable(check):
        check()


def check_plugin_environment(name: str) -> None:
    """:func:`check_environment` for the registered modality ``name``."""
    from xalign.registry import get_modality

    check_environment(get_modality(name))
