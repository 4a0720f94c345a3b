"""Discovery of plugins through entry points, with per-plugin isolation.

Unlike ``pluggy.PluginManager.load_setuptools_entrypoints`` (which stops at the
first broken plugin), each entry point is loaded, registered and called inside
its own ``try``: a plugin that fails to import, fails pluggy's validation, or
registers an invalid modality, encoder or projector kind is recorded as *broken*
with its exception, keeps nothing it registered, and never stops the others.
``XALIGN_STRICT_PLUGINS=1`` re-raises instead, which is what a plugin author wants
while debugging. ``XALIGN_LOAD_PLUGINS=a,b`` loads only the named entry points (an
empty value loads none).

The registry holds three tables: modalities by name, encoders per modality by id
(with the older ids that saved projectors may record), projector kinds by name. It
imports no torch: plugins register functions and classes by reference
(:func:`xalign.lazy.lazy`, ``"package.module:Class"``).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from xalign import hookspecs
from xalign.catalog import load_catalog
from xalign.encoders.component import Encoder, split_ref
from xalign.errors import PluginBrokenError, PluginNotInstalledError, UnknownNameError
from xalign.lazy import resolve
from xalign.modality import Modality

if TYPE_CHECKING:
    from xalign.encoders.frozen import FrozenEncoder

ENTRY_POINT_GROUP = "xalign"
BUILTIN = "xalign"  # the plugin name under which the core's own projector kinds are listed


@dataclass
class PluginInfo:
    """What ``xalign plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    modalities: list[str] = field(default_factory=list)
    encoders: list[str] = field(default_factory=list)  # "modality/id"
    projectors: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "broken"


@dataclass(frozen=True)
class ProjectorKind:
    """One registered projector kind: its class (or import path) and who registered it."""

    kind: str
    target: type | str
    plugin: str

    def load(self) -> type:
        from xalign.projectors.base import Projector

        cls = resolve(self.target) if isinstance(self.target, str) else self.target
        if not (isinstance(cls, type) and issubclass(cls, Projector)):
            raise TypeError(f"projector kind {self.kind!r} (plugin {self.plugin!r}) must be a "
                            f"Projector subclass, got {cls!r}")
        return cls


@dataclass
class _Found:
    """What one plugin's hooks registered, checked before any of it is kept."""

    modalities: list[Modality] = field(default_factory=list)
    encoders: list[Encoder] = field(default_factory=list)
    projectors: list[tuple[str, Any]] = field(default_factory=list)


class Registry:
    """The modalities, encoders and projector kinds available in this environment."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self.strict = os.environ.get("XALIGN_STRICT_PLUGINS") == "1" if strict is None else strict
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.modalities: dict[str, Modality] = {}
        self.encoders: dict[str, dict[str, Encoder]] = {}  # modality -> id -> encoder
        self.projectors: dict[str, ProjectorKind] = {}
        self._owner: dict[str, str] = {}  # modality name or encoder key -> plugin name
        self._add_builtin()

    def _add_builtin(self) -> None:
        """The core's projector kinds go through the same hook as any plugin's; the core is
        not listed among the plugins (its kinds name it as their owner)."""
        import importlib

        builtin = importlib.import_module("xalign.projector_kinds")
        strict, self.strict = self.strict, True  # a broken core must never pass silently
        try:
            self.add_plugin(builtin, PluginInfo(BUILTIN, "xalign", None))
        finally:
            self.strict = strict
        del self.plugins[BUILTIN]

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
        found = _Found()
        try:
            self._call(info.name, "register_modalities", found.modalities.append)
            self._call(info.name, "register_encoders", found.encoders.append)
            self._call(info.name, "register_projectors",
                       lambda kind, cls: found.projectors.append((kind, cls)))
            self._check_new(found)
        except Exception as exc:
            self._unregister(info.name)
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return info
        self._keep(found, info)
        return info

    def _call(self, plugin_name: str, hook: str, register: Any) -> None:
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin_name:
                impl.function(register=register)

    def _check_new(self, found: _Found) -> None:
        names: set[str] = set()
        for modality in found.modalities:
            if not isinstance(modality, Modality):
                raise TypeError(f"register() expects a Modality, got {type(modality).__name__}")
            if modality.name in self.modalities or modality.name in names:
                raise ValueError(f"modality {modality.name!r} is already provided by plugin "
                                 f"{self._owner.get(modality.name, 'this plugin')!r}")
            names.add(modality.name)
        keys: set[str] = set()
        for encoder in found.encoders:
            if not isinstance(encoder, Encoder):
                raise TypeError(f"register() expects an Encoder, got {type(encoder).__name__}")
            taken = self._ids(encoder.modality)
            for name in (encoder.id, *encoder.aliases):
                key = f"{encoder.modality}/{name}"
                if name in taken or key in keys:
                    holder = self._owner.get(f"{encoder.modality}/{taken.get(name)}", "this plugin")
                    raise ValueError(f"encoder id {key!r} is already taken (plugin {holder!r})")
                keys.add(key)
        kinds: set[str] = set()
        for kind, cls in found.projectors:
            if not isinstance(kind, str) or not kind or kind in self.projectors or kind in kinds:
                raise ValueError(f"projector kind {kind!r} is invalid or already registered")
            if not isinstance(cls, (type, str)):
                raise TypeError(f"projector kind {kind!r}: expected a class or "
                                f"'package.module:Class', got {type(cls).__name__}")
            kinds.add(kind)

    def _ids(self, modality: str) -> dict[str, str]:
        """Every id and alias taken for ``modality`` -> the encoder id it names."""
        table = {}
        for encoder in self.encoders.get(modality, {}).values():
            table[encoder.id] = encoder.id
            table.update(dict.fromkeys(encoder.aliases, encoder.id))
        return table

    def _keep(self, found: _Found, info: PluginInfo) -> None:
        for modality in found.modalities:
            self.modalities[modality.name] = modality
            self._owner[modality.name] = info.name
            info.modalities.append(modality.name)
        for encoder in found.encoders:
            self.encoders.setdefault(encoder.modality, {})[encoder.id] = encoder
            self._owner[encoder.key] = info.name
            info.encoders.append(encoder.key)
        for kind, cls in found.projectors:
            self.projectors[kind] = ProjectorKind(kind, cls, info.name)
            info.projectors.append(kind)

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

    def owner(self, name: str) -> str | None:
        """The plugin that registered a modality (``"audio"``) or an encoder (``"audio/tiny"``)."""
        return self._owner.get(name)

    def encoders_for(self, modality: str) -> list[Encoder]:
        """The encoders registered for ``modality``, default first, then by id."""
        default = self.modalities[modality].encoder if modality in self.modalities else None
        table = self.encoders.get(modality, {})
        return sorted(table.values(), key=lambda e: (e.id != default, e.id))

    def encoder(self, modality: str, ref: str | None = None) -> Encoder:
        """The encoder that ``ref`` names for ``modality`` (``None``: the modality's default).

        ``ref`` is an id, one of its aliases (ids that projectors saved by older releases
        record, e.g. ``xalign-audio-tiny-3``), or ``id@source`` as :meth:`Encoder.instantiate`
        records it; the source part is ignored here.
        """
        encoder_id = self.get(modality).encoder if ref is None else split_ref(ref)[0]
        ids = self._ids(modality)
        if encoder_id not in ids:
            raise UnknownNameError(
                f"{modality} encoder", encoder_id, [i for i in ids if not i.endswith(":")],
                hint="other weights of an encoder's layout: ID@PATH_OR_HUB_ID; `xalign "
                     "plugins` lists each modality's encoders; a distribution adds one through "
                     "the register_encoders hook")
        return self.encoders[modality][ids[encoder_id]]

    def resolve(self, modality: str, ref: str | None = None) -> tuple[Encoder, str | None]:
        """``(encoder, weights source)`` for what a recipe or projector names: ``None`` (the
        default encoder), an id or alias, ``id@source``, ``prefix:source`` for an alias that
        ends with ``:`` (how older releases recorded pretrained encoders, e.g.
        ``beats:/ckpt/BEATs.pt``), the default weights of an encoder
        (``openai/clip-vit-large-patch14``), or a path an encoder ``matches`` (a BEATs
        ``.pt``)."""
        if ref is None or split_ref(ref)[0] in self._ids(modality):
            return self.encoder(modality, ref), (split_ref(ref)[1] if ref else None)
        prefix, sep, rest = ref.partition(":")
        if sep and f"{prefix}:" in self._ids(modality):  # an older release's "family:source"
            return self.encoder(modality, f"{prefix}:"), rest
        for encoder in self.encoders_for(modality):
            if encoder.weights == ref:
                return encoder, None
        for encoder in self.encoders_for(modality):
            if encoder.matches is not None and encoder.matches(ref):
                return encoder, ref
        return self.encoder(modality, ref), None  # raises: unknown id, with the choices

    def build_encoder(self, modality: str, ref: str | None = None) -> FrozenEncoder:
        """The frozen network that ``ref`` names (see :meth:`resolve`), tied to its encoder."""
        encoder, source = self.resolve(modality, ref)
        return encoder.instantiate(source)

    def projector_class(self, kind: str) -> type:
        """The class registered for projector ``kind`` (imported on first use)."""
        if kind not in self.projectors:
            raise UnknownNameError("projector", kind, self.projectors,
                                   hint="a distribution adds a kind through register_projectors")
        return self.projectors[kind].load()


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
