"""Plugin discovery and the registry of implementations.

Entry points in the group ``secrets_core`` are loaded one at a time. A plugin that fails to
import or register (any exception, ``SystemExit`` included; only ``KeyboardInterrupt``
passes), or registers a malformed descriptor, is recorded as failed with its distribution,
version and a message naming the field; the others load on. In strict mode the failure
raises instead. A plugin is registered all or nothing, and a discovery is kept only once it
has finished. Discovery runs once per process and policy, on first use: :func:`get_registry`
caches, :func:`reset_registry` clears the cache (for tests).

Blocking uses pluggy's ``set_blocked`` and unknown hooks pluggy's ``check_pending`` (as tox
does). The core's own names win: a third-party registration of ``jsonl`` or ``keyfile`` is
reported as shadowed. A name that only one distribution declares in its metadata (see
:mod:`secrets_core.plugin._index`) wins over undeclared registrations of it too.

A lookup first asks the installed metadata which plugin provides a name and loads just that
plugin; anything it cannot answer runs the full discovery.
"""

from __future__ import annotations

import _thread
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from secrets_core.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    install_hint,
)
from secrets_core.plugin import _discovery as entrypoints
from secrets_core.plugin import _index as plugin_index
from secrets_core.plugin import _marker as markers
from secrets_core.plugin import _validate as validate
from secrets_core.plugin._api import (
    AuditSinkSpec,
    BackendSpec,
    CipherSpec,
    CommandSpec,
    KdfSpec,
    KeySourceSpec,
)
from secrets_core.records import Record

if TYPE_CHECKING:
    from secrets_core.plugin._manager import PluginManager

ENTRY_POINT_GROUP = "secrets_core"
CORE_DISTRIBUTION = "secure-secrets"


Status = Literal["active", "blocked", "failed"]

#: Where to get the implementations this repository publishes, for "not installed" errors.
KNOWN_DISTRIBUTIONS: dict[tuple[str, str], str] = {
    ("backend", "file"): "secure-secrets-file",
    ("backend", "env"): "secure-secrets-env",
    ("backend", "vault"): "secure-secrets-vault",
    ("backend", "vault-envelope"): "secure-secrets-vault",
    ("backend", "sqlite"): "secure-secrets-sqlite",
    ("key source", "os-keyring"): "secure-secrets-keyring",
    ("audit sink", "webhook"): "secure-secrets-webhook-audit",
    ("cipher", "fernet"): "secure-secrets-fernet",
    ("cipher", "aes-gcm"): "secure-secrets-fernet",
    ("cipher", "transit"): "secure-secrets-vault",
    ("kdf", "argon2id"): "secure-secrets-fernet",
    ("kdf", "scrypt"): "secure-secrets-fernet",
    ("kdf", "pbkdf2-sha256"): "secure-secrets-fernet",
    ("command", "lease"): "secure-secrets-vault",
    ("command", "export-env"): "secure-secrets-env",
}

#: The one table of hook families: family -> (registration hook, descriptor type). The
#: descriptor type's ``factory`` annotation says what its factory returns.
_FAMILIES: dict[str, tuple[str, type]] = {
    "backend": ("secrets_register_backends", BackendSpec),
    "cipher": ("secrets_register_ciphers", CipherSpec),
    "kdf": ("secrets_register_kdfs", KdfSpec),
    "key source": ("secrets_register_key_sources", KeySourceSpec),
    "audit sink": ("secrets_register_audit_sinks", AuditSinkSpec),
    "command": ("secrets_register_commands", CommandSpec),
}


HOOKS: dict[str, type] = {hook: spec_type for hook, spec_type in _FAMILIES.values()}
"""Registration hook -> the descriptor type its implementations return."""
_FAMILY_OF: dict[type, str] = {spec_type: family for family, (_h, spec_type) in _FAMILIES.items()}
S = TypeVar("S")
CORE_PLUGIN = "core"
DIST_PREFIX = "dist:"


class PluginPolicy(Record):
    """Which entry points may load: ``allow=None`` means all that are not blocked. An entry
    is an entry-point name (``s3``) or a whole distribution (``dist:acme-secrets-s3``)."""

    allow: frozenset[str] | None = None
    block: frozenset[str] = frozenset()
    strict: bool = False

    def admits(self, plugin: str, distribution: str) -> bool:
        dist = DIST_PREFIX + entrypoints.normalise(distribution)
        blocks = {entrypoints.normalise(b) if b.startswith(DIST_PREFIX) else b for b in self.block}
        if plugin in blocks or dist in blocks:
            return False
        if self.allow is None:
            return True
        allows = {entrypoints.normalise(a) if a.startswith(DIST_PREFIX) else a for a in self.allow}
        return plugin in allows or dist in allows


class PluginInfo(Record):
    """One discovered plugin, as shown by :func:`list_plugins` and ``secure-secrets plugins``."""

    name: str
    distribution: str
    version: str
    status: Status
    hooks: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    error: str | None = None
    shadowed: tuple[str, ...] = ()
    """``family:name`` this plugin registers but another wins (the core's own names, or a
    name another distribution declares in its metadata)."""


class _Provided(Record):
    spec: Any
    plugin: str
    distribution: str
    rank: int  # 2: the core's, 1: declared in the distribution's metadata, 0: neither


class _Family:
    """One family's implementations by name, and the names two plugins provide."""

    def __init__(self) -> None:
        self.items: dict[str, _Provided] = {}
        self.conflicts: dict[str, list[str]] = {}


class _Discovery:
    """What one full discovery found; kept by the registry only once it has finished."""

    def __init__(self, pm: PluginManager, installed: plugin_index.Installed) -> None:
        self.pm = pm
        self.installed = installed
        self.infos: dict[str, PluginInfo] = {}
        self.families = {family: _Family() for family in _FAMILIES}
        self.shadowed: dict[str, list[str]] = {}


class PluginRegistry:
    """Loads plugins under a :class:`PluginPolicy` and indexes what they register.

    Given ``entry_points`` or ``internal`` (tests), discovery runs at once over exactly those.
    Otherwise a lookup loads only the plugin the installed metadata names (see
    :mod:`secrets_core.plugin._index`) and the full discovery runs only when needed.
    """

    def __init__(
        self,
        policy: PluginPolicy | None = None,
        entry_points: Iterable[entrypoints.EntryPoint] | None = None,
        internal: Iterable[tuple[str, ModuleType]] | None = None,
        *,
        quick: bool = False,
    ) -> None:
        self.policy = policy or PluginPolicy()
        self._entry_points = None if entry_points is None else list(entry_points)
        self._internal = None if internal is None else list(internal)
        self._quick = quick and entry_points is None and internal is None and not self.policy.strict
        self._found: _Discovery | None = None
        self._installed: plugin_index.Installed | None = None
        self._quick_specs: dict[tuple[str, str], Any] = {}
        self._quick_staged: dict[str, list[tuple[str, Any]]] = {}
        self._lock = _thread.RLock()
        if not self._quick:
            self._discover()

    # --- full discovery -----------------------------------------------------------------------

    def _discover(self) -> _Discovery:
        """Load every plugin (once). Nothing is kept unless the whole discovery finishes."""
        with self._lock:
            if self._found is not None:
                return self._found
            from secrets_core.plugin._manager import PluginManager

            found = _Discovery(PluginManager(), self._scan())
            for name in self.policy.block:
                if not name.startswith(DIST_PREFIX) and name != CORE_PLUGIN:
                    found.pm.set_blocked(name)
            internal = self._internal
            if internal is None:
                internal = [
                    (name, entrypoints.load_internal(name)) for name in entrypoints.INTERNAL_PLUGINS
                ]
            core_version = entrypoints.version(CORE_DISTRIBUTION)
            for name, module in internal:
                self._register(found, name, module, CORE_DISTRIBUTION, core_version)
            # By name; of two distributions with one entry-point name, the one that declares
            # what the plugin provides loads (a built-in never loses to an undeclared clash).
            order = sorted(
                found.installed.plugins,
                key=lambda ep: (ep.name, not found.installed.declares_plugin(ep)),
            )
            for entry_point in order:
                self._load_entry_point(found, entry_point)
            for plugin, names in found.shadowed.items():
                info = found.infos[plugin]
                found.infos[plugin] = info._replace(shadowed=tuple(sorted(names)))
            self._found = found
            return found

    def _scan(self) -> plugin_index.Installed:
        if self._installed is None:
            if self._entry_points is not None:
                self._installed = plugin_index.Installed(self._entry_points)
            else:
                self._installed = plugin_index.Installed()
        return self._installed

    @property
    def pm(self) -> PluginManager:
        """The pluggy plugin manager (running the full discovery if it has not run)."""
        return self._discover().pm

    def _load_entry_point(self, found: _Discovery, ep: entrypoints.EntryPoint) -> None:
        dist, version = ep.dist.name, ep.dist.version
        if found.pm.is_blocked(ep.name) or not self.policy.admits(ep.name, dist):
            key = ep.name if ep.name not in found.infos else f"{ep.name} ({dist})"
            found.infos[key] = PluginInfo(ep.name, dist, version, "blocked")
            return
        if ep.name in found.infos:
            other = found.infos[ep.name].distribution
            message = (
                f"plugin name '{ep.name}' is provided by both {other} and {dist}; uninstall "
                f'one, or block one distribution: plugins.block = ["dist:{dist}"] '
                f"(or SECURE_SECRETS_PLUGINS_BLOCK=dist:{dist})"
            )
            if self.policy.strict:
                raise PluginConflictError(message)
            found.infos[f"{ep.name} ({dist})"] = PluginInfo(
                ep.name, dist, version, "failed", error=message
            )
            return
        try:
            module = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001  # SystemExit from a module-level argparse too
            self._fail(found, ep.name, dist, version, f"import failed: {validate.describe(exc)}")
            return
        self._register(found, ep.name, module, dist, version)

    def _register(self, found: _Discovery, name: str, plugin: Any, dist: str, version: str) -> None:
        pm = found.pm
        try:
            pm.register(plugin, name=name)
            pm.check_pending()  # a marked function that is no hook of ours
            staged = _collect(
                (impl.function, hook)
                for hook in HOOKS
                for impl in getattr(pm.hook, hook).get_hookimpls()
                if impl.plugin_name == name
            )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            if pm.has_plugin(name):
                pm.unregister(name=name)
            error = exc.args[0] if isinstance(exc, PluginLoadError) else validate.describe(exc)
            self._fail(found, name, dist, version, f"registration failed: {error}")
            return
        provided = []
        for family, spec in staged:  # every hook returned cleanly: index them all
            provided.append(f"{family}:{spec.name}")
            self._index(found, family, spec, name, dist)
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        found.infos[name] = PluginInfo(name, dist, version, "active", hooks, tuple(provided))

    def _index(self, found: _Discovery, family: str, spec: Any, plugin: str, dist: str) -> None:
        rank = (
            2 if plugin == CORE_PLUGIN else int(found.installed.declares(dist, family, spec.name))
        )
        items = found.families[family]
        owner = f"{family} '{spec.name}' of plugin '{plugin}' ({dist})"
        new = _Provided(validate.bind(spec, owner), plugin, dist, rank)
        existing = items.items.get(spec.name)
        if existing is None or existing.rank < rank:
            items.items[spec.name] = new
            loser = existing
        elif existing.rank > rank:
            loser = new
        else:
            items.conflicts.setdefault(spec.name, [existing.distribution]).append(dist)
            return
        if loser is not None:
            found.shadowed.setdefault(loser.plugin, []).append(f"{family}:{spec.name}")

    def _fail(self, found: _Discovery, name: str, dist: str, version: str, error: str) -> None:
        found.infos[name] = PluginInfo(name, dist, version, "failed", error=error)
        if self.policy.strict:
            raise PluginLoadError(f"plugin '{name}' from {dist} {version}: {error}") from None

    # --- the quick path: one plugin, named by the installed metadata --------------------------

    def _quick_lookup(self, family: str, name: str) -> Any | None:
        key = (family, name)
        if key in self._quick_specs:
            return self._quick_specs[key]
        plugin, dist = CORE_PLUGIN, CORE_DISTRIBUTION
        try:
            staged = self._staged(CORE_PLUGIN, lambda: entrypoints.load_internal(CORE_PLUGIN))
            if not any(f == family and spec.name == name for f, spec in staged):
                ep = self._scan().provider(
                    family, name, lambda ep: self.policy.admits(ep.name, ep.dist.name)
                )
                if ep is None:
                    return None
                plugin, dist = ep.name, ep.dist.name
                staged = self._staged(f"{plugin} ({dist})", ep.load)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001  # the full discovery records it properly
            return None
        for staged_family, spec in staged:
            if staged_family == family and spec.name == name:
                owner = f"{family} '{name}' of plugin '{plugin}' ({dist})"
                self._quick_specs[key] = validate.bind(spec, owner)
                return self._quick_specs[key]
        return None

    def _staged(self, key: str, load: Callable[[], Any]) -> list[tuple[str, Any]]:
        """Every descriptor one plugin registers, checked: its registration functions run
        once per registry, however many of its implementations the process looks up."""
        if key not in self._quick_staged:
            self._quick_staged[key] = _collect(_marked(load(), *HOOKS))
        return self._quick_staged[key]

    # --- lookup -------------------------------------------------------------------------------

    def get(self, kind: type[S], name: str) -> S:
        """The descriptor of type ``kind`` (``BackendSpec``, ``CipherSpec``, ...) named
        ``name``; its ``factory`` imports a ``"module:attr"`` factory on first call and checks
        what it returns. Raises :class:`PluginNotFoundError` or :class:`PluginConflictError`."""
        spec: S = self.lookup(_FAMILY_OF[kind], name)
        return spec

    def lookup(self, family: str, name: str) -> Any:
        """:meth:`get` by family name (``"backend"``, ``"key source"``, ...)."""
        with self._lock:
            if self._found is None and self._quick:
                spec = self._quick_lookup(family, name)
                if spec is not None:
                    return spec
            index = self._discover().families[family]
        if name in index.conflicts:
            dists = " and ".join(index.conflicts[name])
            last = index.conflicts[name][-1]
            raise PluginConflictError(
                f"{family} '{name}' is provided by {dists}; uninstall one of them, or block "
                f'one distribution: plugins.block = ["dist:{last}"] in the config or '
                f"SECURE_SECRETS_PLUGINS_BLOCK=dist:{last}"
            )
        if name not in index.items:
            raise PluginNotFoundError(self._not_found_message(family, name))
        return index.items[name].spec

    def _not_found_message(self, family: str, name: str) -> str:
        import difflib

        found = self._discover()
        dist = KNOWN_DISTRIBUTIONS.get((family, name))
        names = sorted(found.families[family].items)
        installed = ", ".join(names) or "none"
        known = names + sorted(n for f, n in KNOWN_DISTRIBUTIONS if f == family and n not in names)
        close = difflib.get_close_matches(name, known, n=1)
        if dist:
            hint = f"install it with: {install_hint(dist)}"
        elif close and close[0] in names:
            hint = f"did you mean '{close[0]}'?"
        elif close:
            provider = KNOWN_DISTRIBUTIONS[(family, close[0])]
            hint = f"did you mean '{close[0]}'? (install it with: {install_hint(provider)})"
        else:
            hint = "install the distribution that provides it, or check the spelling"
        failed = [i for i in found.infos.values() if i.status != "active" and i.name == name]
        if failed:
            hint += f" (plugin '{name}' from {failed[0].distribution} is {failed[0].status})"
        shown = validate.shown(name)
        return f"no {family} named '{shown}' is installed (installed: {installed}); {hint}"

    def has(self, family: str, name: str) -> bool:
        """Whether an implementation ``name`` of ``family`` is installed (raises
        :class:`PluginConflictError` if two plugins provide it)."""
        try:
            self.lookup(family, name)
        except PluginNotFoundError:
            return False
        return True

    def installed(self, family: str, name: str) -> bool:
        """:meth:`has`, answered from the distributions' ``secrets_core.provides``
        declarations when one declares ``name`` (importing nothing)."""
        with self._lock:
            if self._found is None and self._quick:
                admitted = self.policy.admits
                if self._scan().provider(family, name, lambda ep: admitted(ep.name, ep.dist.name)):
                    return True
        return self.has(family, name)

    def names(self, family: str) -> list[str]:
        """Installed implementation names of one family ("backend", "cipher", ...)."""
        return sorted(self._discover().families[family].items)

    def plugins(self) -> list[PluginInfo]:
        infos = self._discover().infos.values()
        return sorted(infos, key=lambda info: (info.name, info.distribution))


def _marked(module: Any, *hooks: str) -> Iterable[tuple[Any, str]]:
    """A module's registration functions, called without pluggy (the quick path)."""
    for hook in hooks:
        function = getattr(module, hook, None)
        if markers.is_marked(function):
            yield function, hook


def _collect(functions: Iterable[tuple[Any, str]]) -> list[tuple[str, Any]]:
    """Call registration functions and check every descriptor; raises PluginLoadError."""
    staged: list[tuple[str, Any]] = []
    for function, hook in functions:
        spec_type = HOOKS[hook]
        family = _FAMILY_OF[spec_type]
        specs = validate.descriptors(hook, spec_type, function())
        validate.duplicates(family, specs)
        staged += [(family, spec) for spec in specs]
    return staged


_cache: dict[PluginPolicy, PluginRegistry] = {}
_cache_lock = _thread.allocate_lock()


def get_registry(policy: PluginPolicy | None = None) -> PluginRegistry:
    """The process-wide registry for ``policy``, discovered on first call."""
    policy = policy or PluginPolicy()
    with _cache_lock:
        registry = _cache.get(policy)
        if registry is None:
            registry = _cache[policy] = PluginRegistry(policy, quick=True)
        return registry


def reset_registry() -> None:
    """Forget discovered plugins, so the next :func:`get_registry` discovers again."""
    with _cache_lock:
        _cache.clear()
