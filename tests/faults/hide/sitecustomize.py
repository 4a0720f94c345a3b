"""Hide modules from a child Python process, as on a machine that lacks them.

Put this folder first on ``PYTHONPATH`` and set ``XALIGN_HIDE_MODULES`` to
``name`` (imports fail as if not installed) or ``name=message`` (imports fail
with ``ImportError(message)``, as the dynamic loader reports a missing system
library), several separated by ``;``. Only the child sees it.
"""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder


def _parse(value: str) -> dict[str, str]:
    hidden = {}
    for entry in filter(None, (e.strip() for e in value.split(";"))):
        name, _, message = entry.partition("=")
        hidden[name.strip()] = message.strip()
    return hidden


class _Hide(MetaPathFinder):
    def __init__(self, hidden: dict[str, str]) -> None:
        self.hidden = hidden

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        for name, message in self.hidden.items():
            if fullname == name or fullname.startswith(name + "."):
                if message:
                    raise ImportError(message)
                raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


_HIDDEN = _parse(os.environ.get("XALIGN_HIDE_MODULES", ""))
if _HIDDEN:
    for _name in list(sys.modules):
        if any(_name == h or _name.startswith(h + ".") for h in _HIDDEN):
            del sys.modules[_name]
    sys.meta_path.insert(0, _Hide(_HIDDEN))
