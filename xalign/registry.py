"""Discovery of modality plugins through entry points, with per-plugin isolation.

Unlike ``pluggy.PluginManager.load_setuptools_entrypoints`` (which stops at the
first broken plugin), each entry point is loaded, registered and called inside
its own ``try``: a plugin that fails to import, fails pluggy's validation, or
registers an invalid modality is recorded as *broken* with its exception and
never stops the others. ``XALIGN_STRICT_PLUGINS=1`` re-raises instead, which is
what a plugin author wants while debugging. ``XALIGN_LOAD_PLUGINS=a,b`` loads
only the named entry points (an empty value loads none).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from xalign import hookspecs
from xalign.catalog import load_catalog
from xalign.errors import PluginBrokenError, PluginNotInstalledError, UnknownNameError
from xalign.modality import Modality

ENTRY_POINT_GROUP = "xalign"


@dataclass
class PluginInfo:
    """What ``xalign plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    modalities: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "broken"


class Registry:
    """The modalities available in this environment."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self.strict = os.environ.get("XALIGN_STRICT_PLUGINS") == "1" if strict is None else strict
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.modalities: dict[str, Modality] = {}
        self._owner: dict[str, str] = {}  # modality name -> plugin name

    # -- discovery -----------------------------------------------------------------
    def discover(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> Registry:
        """Load every entry point of the ``xalign`` group (or the given ones)."""
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        wanted = os.environ.get("XALIGN_LOAD_PLUGINS")
        allowed = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for ep in entry_points:
            if allowed is not None and ep.name not in allowed:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}", exc)
                continue
            self.add_plugin(module, info)
        return self

    def add_plugin(self, plugin: ModuleType | object, info: PluginInfo | str) -> PluginInfo:
        """Register one plugin object in-process (tests and embedding use this too)."""
        if isinstance(info, str):
            info = PluginInfo(name=info, distribution=None, version=None)
        self.plugins[info.name] = info
        try:
            self.manager.register(plugin, name=info.name)
            # check_pending finds hookimpls without a spec (typos such as register_modality)
            self.manager.check_pending()
        except Exception as exc:
            self._unregister(info.name)
            self._fail(info, f"invalid hooks: {exc}", exc)
            return info
        found: list[Modality] = []
        try:
            for impl in self.manager.hook.register_modalities.get_hookimpls():
                if impl.plugin_name == info.name:
                    impl.function(register=found.append)
            for modality in found:
                self._check_new(modality)
        except Exception as exc:
            self._unregister(info.name)
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return info
        for modality in found:
            self.modalities[modality.name] = modality
            self._owner[modality.name] = info.name
            info.modalities.append(modality.name)
        return info

    def _check_new(self, modality: object) -> None:
        if not isinstance(modality, Modality):
            raise TypeError(f"register() expects a Modality, got {type(modality).__name__}")
        if modality.name in self.modalities:
            raise ValueError(
                f"modality {modality.name!r} is already provided by plugin "
                f"{self._owner[modality.name]!r}"
            )

    def _unregister(self, name: str) -> None:
        if self.manager.get_plugin(name) is not None:
            self.manager.unregister(name=name)

    def _fail(self, info: PluginInfo, reason: str, exc: BaseException) -> None:
        info.error = reason
        self.plugins[info.name] = info
        if self.strict:
            raise PluginBrokenError(info.name, reason) from exc

    # -- lookup --------------------------------------------------------------------
    def get(self, name: str) -> Modality:
        """Return the modality called ``name`` or raise an error that says what to do."""
        if name in self.modalities:
            return self.modalities[name]
        catalog = load_catalog()
        broken = self._broken_provider(name, catalog.get(name))
        if broken is not None:
            raise PluginBrokenError(broken.name, broken.error or "unknown error")
        if name in catalog:
            raise PluginNotInstalledError(name, catalog[name].distribution)
        raise UnknownNameError(
            "modality",
            name,
            set(self.modalities) | set(catalog),
            hint="`xalign plugins` lists what is installed",
        )

    def _broken_provider(self, name: str, entry: object) -> PluginInfo | None:
        dist = getattr(entry, "distribution", None)
        for info in self.plugins.values():
            if info.error and (info.name == name or (dist and info.distribution == dist)):
                return info
        return None

    def names(self) -> list[str]:
        return sorted(self.modalities)


_lock = threading.Lock()
_default: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, discovered lazily on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Registry().discover()
        return _default


def reset_registry(registry: Registry | None = None) -> None:
    """Drop (or replace) the process-wide registry; tests use this."""
    global _default
    with _lock:
        _default = registry


def get_modality(name: str) -> Modality:
    """Shortcut for ``get_registry().get(name)``."""
    return get_registry().get(name)
