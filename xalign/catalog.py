"""The catalog of known plugins (``registry.yaml``), installed or not."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class CatalogEntry:
    """One known plugin: enough to tell a user what to install."""

    name: str
    distribution: str
    cue: str
    encoders: tuple[str, ...]
    description: str


@cache
def load_catalog() -> dict[str, CatalogEntry]:
    """Read the catalog shipped with the package, keyed by modality name."""
    text = resources.files("xalign").joinpath("registry.yaml").read_text(encoding="utf-8")
    entries = yaml.safe_load(text)["plugins"]
    return {
        e["name"]: CatalogEntry(
            name=e["name"],
            distribution=e["distribution"],
            cue=e["cue"],
            encoders=tuple(e.get("encoders", ())),
            description=e.get("description", ""),
        )
        for e in entries
    }
