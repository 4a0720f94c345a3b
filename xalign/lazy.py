"""References to functions and classes that import their module on first use.

A plugin registers its modality and encoders with ``lazy("pkg.module:name")`` instead of
importing ``pkg.module`` itself, so ``xalign plugins`` reads every plugin without importing
torch, transformers or a decoder library; the module loads when the function is first called.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def resolve(target: str) -> Any:
    """The object named ``"package.module:attribute"`` (dots after ':' walk attributes)."""
    if not _TARGET.match(target):
        raise ValueError(f"expected 'package.module:name', got {target!r}")
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class LazyCallable:
    """A callable standing for ``target``; imports it on the first call. It answers
    ``__module__`` and ``__name__`` like the function it stands for (without importing it),
    so code that asks which package a plugin's function comes from keeps working."""

    def __init__(self, target: str) -> None:
        if not _TARGET.match(target):
            raise ValueError(f"expected 'package.module:name', got {target!r}")
        self.target = target
        self.__module__, _, self.__qualname__ = target.partition(":")
        self.__name__ = self.__qualname__.rsplit(".", 1)[-1]
        self._function: Any = None

    def resolve(self) -> Any:
        if self._function is None:
            self._function = resolve(self.target)
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"


def lazy(target: str) -> LazyCallable:
    """``lazy("xalign_plugin_audio.loading:load")``: a function imported on first call."""
    return LazyCallable(target)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` (PEP 562) for ``package``: each name of ``exports``
    (name -> the module that defines it) is imported on first access, so importing the
    package itself stays light. A name equal to a submodule's is shadowed by that submodule
    once it is imported: export such functions from their module only."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
