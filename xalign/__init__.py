"""xalign: connect any modality to a frozen language model through small projectors."""

from xalign.errors import (
    CheckpointError,
    MediaError,
    PluginBrokenError,
    PluginNotInstalledError,
    UnknownNameError,
    XalignError,
)
from xalign.hookspecs import hookimpl
from xalign.modality import Modality, ProjectorDefaults, SyntheticSample
from xalign.registry import get_modality, get_registry

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "MediaError",
    "Modality",
    "PluginBrokenError",
    "PluginNotInstalledError",
    "ProjectorDefaults",
    "SyntheticSample",
    "UnknownNameError",
    "XalignError",
    "get_modality",
    "get_registry",
    "hookimpl",
]
