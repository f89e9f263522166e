"""Plugin discovery and the registry of implementations.

Entry points in the group ``secrets_core`` are loaded one at a time. A plugin that fails to
import or register is recorded (with its distribution and version) and the others load on;
in strict mode the failure raises instead. Discovery runs once per process and policy, on
first use: :func:`get_registry` caches, :func:`reset_registry` clears the cache (for tests).

The registry :func:`get_registry` returns first looks a name up in the plugin index (see
:mod:`secrets_core.plugin._index`), which a previous full discovery wrote, and loads just the
plugin that provides it; anything the index cannot answer (a listing, an unknown or
conflicting name, a changed installation, strict mode) runs the full discovery.
"""

import _thread
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from secrets_core import defaults
from secrets_core.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    install_hint,
)
from secrets_core.plugin import _discovery as entrypoints
from secrets_core.plugin import _index as plugin_index
from secrets_core.plugin import _marker as markers
from secrets_core.plugin._api import (
    AuditSinkSpec,
    BackendSpec,
    CipherSpec,
    CommandSpec,
    KdfSpec,
    KeySourceSpec,
)

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

_FAMILIES: dict[str, tuple[str, type]] = {
    "backend": ("secrets_register_backends", BackendSpec),
    "cipher": ("secrets_register_ciphers", CipherSpec),
    "kdf": ("secrets_register_kdfs", KdfSpec),
    "key source": ("secrets_register_key_sources", KeySourceSpec),
    "audit sink": ("secrets_register_audit_sinks", AuditSinkSpec),
    "command": ("secrets_register_commands", CommandSpec),
}


_HOOK_NAMES = frozenset(hook for hook, _spec_type in _FAMILIES.values())


class PluginPolicy(NamedTuple):
    """Which entry points may load. ``allow=None`` means all that are not blocked."""

    allow: frozenset[str] | None = None
    block: frozenset[str] = frozenset()
    strict: bool = False


class PluginInfo(NamedTuple):
    """One discovered plugin, as shown by :func:`list_plugins` and ``secure-secrets plugins``."""

    name: str
    distribution: str
    version: str
    status: Status
    hooks: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    error: str | None = None


class _Provided(NamedTuple):
    spec: Any
    plugin: str
    distribution: str


class _Family:
    """One family's implementations by name, and the names two plugins provide."""

    def __init__(self) -> None:
        self.items: dict[str, _Provided] = {}
        self.conflicts: dict[str, list[str]] = {}


class PluginRegistry:
    """Loads plugins under a :class:`PluginPolicy` and indexes what they register.

    Given ``entry_points`` or ``internal`` (tests), discovery runs at once over exactly those.
    Given an ``index_path`` (:func:`get_registry` does), lookups go through the plugin index
    first and the full discovery runs only when needed.
    """

    def __init__(
        self,
        policy: PluginPolicy | None = None,
        entry_points: Iterable[entrypoints.EntryPoint] | None = None,
        internal: Iterable[tuple[str, ModuleType]] | None = None,
        *,
        index_path: Path | None = None,
    ) -> None:
        self.policy = policy or PluginPolicy()
        self._entry_points = entry_points
        self._internal = internal
        self._index = (
            plugin_index.PluginIndex(index_path, self.policy)
            if index_path is not None and entry_points is None and internal is None
            else None
        )
        self._pm: PluginManager | None = None
        self._infos: dict[str, PluginInfo] = {}
        self._families = {family: _Family() for family in _FAMILIES}
        self._lock = _thread.RLock()
        if self._index is None or self.policy.strict:  # strict: every plugin must load
            self._discover()

    def _discover(self) -> None:
        """Load every plugin (once), then refresh the plugin index."""
        with self._lock:
            if self._pm is not None:
                return
            from secrets_core.plugin._manager import PluginManager

            self._pm = PluginManager()
            internal = self._internal
            if internal is None:
                internal = [
                    (name, entrypoints.load_internal(name)) for name in entrypoints.INTERNAL_PLUGINS
                ]
            for name, module in internal:
                self._register(
                    name, module, CORE_DISTRIBUTION, entrypoints.version(CORE_DISTRIBUTION)
                )
            found = list(
                entrypoints.entry_points(ENTRY_POINT_GROUP)
                if self._entry_points is None
                else self._entry_points
            )
            for entry_point in sorted(found, key=lambda ep: ep.name):
                self._load_entry_point(entry_point)
            if self._index is not None:
                self._index.save(self._indexable({ep.name: ep for ep in found}))

    def _indexable(
        self, sources: dict[str, entrypoints.EntryPoint]
    ) -> dict[str, dict[str, plugin_index.Provider]]:
        """What this discovery found that the index may answer: unconflicted names of
        active plugins (a core name, or an entry point with its dist-info directory)."""
        provided: dict[str, dict[str, plugin_index.Provider]] = {}
        for family, index in self._families.items():
            table = provided.setdefault(family, {})
            for name, item in index.items.items():
                if name in index.conflicts:
                    continue
                if item.plugin == "core":
                    table[name] = plugin_index.Provider("core", "", CORE_DISTRIBUTION, "", "")
                elif item.plugin in sources:
                    ep = sources[item.plugin]
                    table[name] = plugin_index.Provider(
                        ep.name, ep.value, ep.dist.name, ep.dist.version, ep.info_dir
                    )
        return provided

    @property
    def pm(self) -> "PluginManager":
        """The pluggy plugin manager (running the full discovery if it has not run)."""
        self._discover()
        assert self._pm is not None
        return self._pm

    # --- loading ------------------------------------------------------------------------------

    def _load_entry_point(self, ep: entrypoints.EntryPoint) -> None:
        dist = ep.dist.name if ep.dist else "unknown"
        version = ep.dist.version if ep.dist else "unknown"
        if ep.name in self.policy.block or (
            self.policy.allow is not None and ep.name not in self.policy.allow
        ):
            self._infos[ep.name] = PluginInfo(ep.name, dist, version, "blocked")
            return
        if ep.name in self._infos:
            other = self._infos[ep.name].distribution
            message = (
                f"plugin name '{ep.name}' is provided by both {other} and {dist}; "
                f"uninstall one, or block one with plugins.block / SECURE_SECRETS_PLUGINS_BLOCK"
            )
            if self.policy.strict:
                raise PluginConflictError(message)
            self._infos[f"{ep.name} ({dist})"] = PluginInfo(
                ep.name, dist, version, "failed", error=message
            )
            return
        try:
            module = ep.load()
        except Exception as exc:
            self._fail(ep.name, dist, version, f"import failed: {type(exc).__name__}: {exc}", exc)
            return
        self._register(ep.name, module, dist, version)

    def _register(self, name: str, plugin: Any, dist: str, version: str) -> None:
        try:
            # Checked before pm.register, which would create a spec-less caller for the name.
            unknown = [
                attr
                for attr in dir(plugin)
                if markers.is_marked(getattr(plugin, attr, None)) and attr not in _HOOK_NAMES
            ]
            if unknown:
                raise PluginLoadError(f"implements unknown hook {unknown[0]}")
            pm = self.pm
            pm.register(plugin, name=name)
            hooks = tuple(sorted(impl for impl in _hook_names(pm, name)))
            provided = self._collect(name, dist)
        except Exception as exc:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self._fail(
                name, dist, version, f"registration failed: {type(exc).__name__}: {exc}", exc
            )
            return
        self._infos[name] = PluginInfo(name, dist, version, "active", hooks, provided)

    def _collect(self, plugin: str, dist: str) -> tuple[str, ...]:
        """Call this plugin's registration hooks and index what they return."""
        staged: list[tuple[str, Any]] = []
        for family, (hook_name, spec_type) in _FAMILIES.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != plugin:
                    continue
                result = impl.function()
                for spec in result or ():
                    if not isinstance(spec, spec_type):
                        raise TypeError(
                            f"{hook_name} returned {type(spec).__name__}, "
                            f"expected {spec_type.__name__}"
                        )
                    staged.append((family, spec))
        for family, spec in staged:  # only index once every hook returned cleanly
            items = self._families[family]
            existing = items.items.get(spec.name)
            if existing is not None:
                items.conflicts.setdefault(spec.name, [existing.distribution]).append(dist)
            else:
                items.items[spec.name] = _Provided(spec, plugin, dist)
        return tuple(f"{family}:{spec.name}" for family, spec in staged)

    def _fail(self, name: str, dist: str, version: str, error: str, exc: Exception) -> None:
        self._infos[name] = PluginInfo(name, dist, version, "failed", error=error)
        if self.policy.strict:
            raise PluginLoadError(f"plugin '{name}' from {dist} {version}: {error}") from exc

    # --- lookup -------------------------------------------------------------------------------

    def _get(self, family: str, name: str) -> Any:
        if self._pm is None and self._index is not None:
            hook_name, spec_type = _FAMILIES[family]
            spec = self._index.lookup(family, name, hook_name, spec_type)
            if spec is not None:
                return spec
        self._discover()
        index = self._families[family]
        if name in index.conflicts:
            dists = " and ".join(index.conflicts[name])
            raise PluginConflictError(
                f"{family} '{name}' is provided by {dists}; uninstall one of them, or block "
                "one plugin with plugins.block in the config or SECURE_SECRETS_PLUGINS_BLOCK"
            )
        if name not in index.items:
            raise PluginNotFoundError(self._not_found_message(family, name))
        return index.items[name].spec

    def _not_found_message(self, family: str, name: str) -> str:
        dist = KNOWN_DISTRIBUTIONS.get((family, name))
        installed = ", ".join(sorted(self._families[family].items)) or "none"
        hint = (
            f"install it with: {install_hint(dist)}"
            if dist
            else "install the distribution that provides it, or check the spelling"
        )
        failed = [i for i in self._infos.values() if i.status != "active" and i.name == name]
        if failed:
            hint += f" (plugin '{name}' from {failed[0].distribution} is {failed[0].status})"
        return f"no {family} named '{name}' is installed (installed: {installed}); {hint}"

    def backend(self, name: str) -> BackendSpec:
        spec: BackendSpec = self._get("backend", name)
        return spec

    def cipher(self, name: str) -> CipherSpec:
        spec: CipherSpec = self._get("cipher", name)
        return spec

    def kdf(self, name: str) -> KdfSpec:
        spec: KdfSpec = self._get("kdf", name)
        return spec

    def key_source(self, name: str) -> KeySourceSpec:
        spec: KeySourceSpec = self._get("key source", name)
        return spec

    def audit_sink(self, name: str) -> AuditSinkSpec:
        spec: AuditSinkSpec = self._get("audit sink", name)
        return spec

    def command(self, name: str) -> CommandSpec:
        spec: CommandSpec = self._get("command", name)
        return spec

    def has(self, family: str, name: str) -> bool:
        """Whether an implementation ``name`` of ``family`` is installed (raises
        :class:`PluginConflictError` if two plugins provide it)."""
        try:
            self._get(family, name)
        except PluginNotFoundError:
            return False
        return True

    def names(self, family: str) -> list[str]:
        """Installed implementation names of one family ("backend", "cipher", ...)."""
        self._discover()
        return sorted(self._families[family].items)

    def plugins(self) -> list[PluginInfo]:
        self._discover()
        return sorted(self._infos.values(), key=lambda info: (info.name, info.distribution))


def _hook_names(pm: "PluginManager", plugin_name: str) -> Iterable[str]:
    plugin = pm.get_plugin(plugin_name)
    for caller in pm.get_hookcallers(plugin) or ():
        yield caller.name


_cache: dict[PluginPolicy, PluginRegistry] = {}
_cache_lock = _thread.allocate_lock()


def get_registry(policy: PluginPolicy | None = None) -> PluginRegistry:
    """The process-wide registry for ``policy``, discovered on first call."""
    policy = policy or PluginPolicy()
    with _cache_lock:
        registry = _cache.get(policy)
        if registry is None:
            registry = _cache[policy] = PluginRegistry(
                policy, index_path=defaults.plugin_index_path()
            )
        return registry


def reset_registry() -> None:
    """Forget discovered plugins, so the next :func:`get_registry` discovers again."""
    with _cache_lock:
        _cache.clear()
