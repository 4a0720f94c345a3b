"""xalign: connect any modality to a frozen language model through small projectors.

Importing this package is light (no torch): plugins import ``hookimpl``, ``Modality``
and ``Encoder`` from here while ``xalign plugins`` lists them.
"""

from xalign.encoders.component import Encoder
from xalign.errors import (
    CheckpointError,
    MediaError,
    PluginBrokenError,
    PluginNotInstalledError,
    UnknownNameError,
    XalignError,
)
from xalign.hookspecs import hookimpl
from xalign.lazy import lazy
from xalign.modality import Modality, SyntheticSample
from xalign.registry import get_modality, get_registry

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "Encoder",
    "MediaError",
    "Modality",
    "PluginBrokenError",
    "PluginNotInstalledError",
    "SyntheticSample",
    "UnknownNameError",
    "XalignError",
    "get_modality",
    "get_registry",
    "hookimpl",
    "lazy",
]
