"""The composition root: settings + plugin registry -> backends, ciphers, keys and audit.

Everything is built lazily, on first use, so constructing a manager does no I/O beyond
reading the config, and a manager configured for an unreachable Vault still serves the local
file backend. ``secure-secrets config validate`` builds through the same :class:`Assembly`.
"""

from __future__ import annotations

import _thread  # threading's locks without importing threading: it costs every CLI start
import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from secrets_core import defaults
from secrets_core.audit._chain import anchor_record, check_anchor, parse_head
from secrets_core.audit._events import AuditTrail
from secrets_core.audit._operation import AuditedOperation, Operation
from secrets_core.config import Settings, load_settings, plugin_name, resolve_options
from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    ConfigError,
    PluginNotFoundError,
    SecretsError,
)
from secrets_core.keys import envelope
from secrets_core.keys._datakeys import KeyManager
from secrets_core.ledger import StoreLedger
from secrets_core.names import validate_name
from secrets_core.plugin import _validate as validate
from secrets_core.plugin._api import (
    AuditSink,
    AuditSinkSpec,
    BackendSpec,
    Capability,
    CipherSpec,
    DynamicCredentials,
    Kdf,
    KdfSpec,
    KeySource,
    KeySourceSpec,
    PluginContext,
    RecordKey,
    StorageBackend,
)
from secrets_core.plugin._factory import load as load_callable
from secrets_core.plugin._registry import PluginInfo, PluginPolicy, PluginRegistry, get_registry
from secrets_core.secret import SecretValue

if TYPE_CHECKING:
    from secrets_core.audit._verify import AuditVerification

S = TypeVar("S")

_UNNAMED = object()


class GuardedBackend:
    """Forwards to a plugin's backend. An exception that is not a
    :class:`~secrets_core.errors.SecretsError` becomes a ``BackendUnavailableError`` naming
    only its type (a client library's message may carry a URL, a path or a token), and the
    call's arguments (a value being written may be plaintext) are dropped from the frame
    before anything is raised."""

    def __init__(self, inner: Any, backend_name: str) -> None:
        self.inner = inner
        self._backend_name = backend_name

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self.inner, attribute)
        if not callable(target):
            return target
        backend_name = self._backend_name

        def call(*args: Any, **kwargs: Any) -> Any:
            error: SecretsError
            try:
                return target(*args, **kwargs)
            except SecretsError as exc:
                error = exc
            except Exception as exc:
                error = BackendUnavailableError(
                    f"backend '{backend_name}' failed ({type(exc).__name__}); check that it is "
                    "reachable and configured (secure-secrets doctor)"
                )
            del args, kwargs
            raise error  # outside the except blocks: nothing of the original is chained

        setattr(self, attribute, call)  # later lookups skip __getattr__
        return call


class Assembly:
    """What one manager runs with, built from ``settings`` and the plugin ``registry`` (None:
    the process-wide registry for the settings' plugin policy)."""

    def __init__(self, settings: Settings, registry: PluginRegistry | None = None) -> None:
        self.settings = settings
        self._registry = registry
        self._lock = _thread.RLock()
        self.backends: dict[str, tuple[BackendSpec, StorageBackend]] = {}
        """Backends opened so far, by name (read without the lock on the lean read path)."""
        self._keys: KeyManager | None = None
        self._trail: AuditTrail | None = None
        self.ledger = StoreLedger(self)

    @property
    def registry(self) -> PluginRegistry:
        with self._lock:
            if self._registry is None:
                self._registry = get_registry(self.settings.plugins)
            return self._registry

    def where(self, table: str) -> str:
        """``[table] in FILE`` for error messages."""
        origin = self.settings.config_file
        return f"[{table}]" + (f" in {origin}" if origin else "")

    # --- plugin context ---------------------------------------------------------------------

    def context(self) -> PluginContext:
        return self.settings.context._replace(
            kdf=self.kdf,
            audit_key=self.audit_key,
            audit_anchor=self.audit_anchor,
            advance_audit_anchor=self.advance_audit_anchor,
            record_key=self.record_key,
        )

    def kdf(self, name: str | None, params: Mapping[str, int] | None) -> Kdf:
        """The configured KDF (``[kdf]``), or the one named with stored params."""
        if name is None:
            configured = dict(self.settings.kdf)
            name = str(configured.pop("name", defaults.DEFAULT_KDF))
            params = configured if params is None else params
        return self.registry.get(KdfSpec, name).make(params or {})

    def audit_key(self) -> bytes | None:
        """The keyring's audit chain key, or None if there is no keyring yet (never creates
        one: a failed first operation must not make keys)."""
        keys = self.key_manager()
        return keys.audit_key() if keys.exists() else None

    def record_key(self) -> RecordKey | None:
        """The key that authenticates backend records, or None if there is no keyring yet."""
        keys = self.key_manager()
        return keys.record_key() if keys.exists() else None

    def audit_anchor(self, first: tuple[int, str] | None = None) -> tuple[int, str] | None:
        """Where the keyring anchors the audit chain, ``(seq, mac)`` of its first line; with
        ``first``, anchor it there unless it is anchored already. None without a keyring.
        Raises ValueError if the stored anchor is not authentic."""
        keys = self.key_manager()
        if not keys.exists():
            return None
        key = keys.audit_key()
        stored = keys.audit_anchor()
        if stored is None and first is not None:
            stored = keys.set_audit_anchor(anchor_record(key, *first))
        return check_anchor(key, stored)

    def advance_audit_anchor(self, to: tuple[int, str]) -> tuple[int, str] | None:
        """Move the audit chain's anchor forward to ``to`` (a later line the caller has
        verified chains on from the current anchor); return the anchor in force."""
        keys = self.key_manager()
        if not keys.exists():
            return None
        key = keys.audit_key()
        stored = keys.audit_anchor()
        current = check_anchor(key, stored)
        if current is not None and to[0] <= current[0]:
            return current
        return check_anchor(key, keys.set_audit_anchor(anchor_record(key, *to), stored))

    # --- audit ------------------------------------------------------------------------------

    def audit_trail(self) -> AuditTrail:
        trail = self._trail  # every operation asks: no lock once it is built
        if trail is not None:
            return trail
        with self._lock:
            if self._trail is None:
                for table in sorted(self.settings.audit_tables):
                    if not self.registry.has("audit sink", table):
                        installed = ", ".join(self.registry.names("audit sink"))
                        raise ConfigError(
                            f"{self.where(f'audit.{table}')}: no audit sink named '{table}' "
                            f"is installed (installed: {installed}); a misspelt table would "
                            "silently disable its settings"
                        )
                sinks: list[tuple[str, AuditSink, bool]] = []
                for sink in self.settings.audit_sinks:
                    spec = self.registry.get(AuditSinkSpec, sink.name)
                    options = resolve_options(
                        spec.options, sink.options, self.where(f"audit.{sink.name}")
                    )
                    sinks.append((sink.name, spec.make(options, self.context()), sink.required))
                self._trail = AuditTrail(sinks)
            return self._trail

    @property
    def trail_if_open(self) -> AuditTrail | None:
        return self._trail

    def operation(
        self, operation: Operation, name: object = _UNNAMED, backend_type: object = None
    ) -> AuditedOperation:
        """Start an audited operation. Operations on one secret pass its ``name`` (validated
        here, None included); changes first check that required audit sinks can record."""
        trail = self.audit_trail()
        backend = None if operation.without_backend else self.backend_name(backend_type)
        op = AuditedOperation(trail, operation, backend, None)
        try:
            if name is not _UNNAMED:
                op.name = validate_name(name)
            if op.change:
                trail.check_required()  # fail closed before changing anything
        except SecretsError:
            with op:  # a rejected name is not recorded: it could be a pasted value
                raise
        return op

    def verify_audit_log(self, path: Path | None, saved_head: str | None) -> AuditVerification:
        """:func:`~secrets_core.audit.verify_log` with this store's audit key and anchor."""
        from secrets_core.audit._verify import AuditVerification, verify_log

        path = path or self.audit_log_path()
        head = parse_head(saved_head) if saved_head else None
        keys = self.key_manager()
        if not keys.exists():
            return verify_log(path, None)
        key = keys.audit_key()
        try:
            anchor = check_anchor(key, keys.audit_anchor())
        except ValueError as exc:
            return AuditVerification(
                False, 0, 0, problem=str(exc), status="tampered", reason="anchor_forged"
            )
        return verify_log(path, key, anchor, head)

    def audit_log_path(self) -> Path:
        """Where the configured ``jsonl`` sink writes (its default when not configured)."""
        table = next(
            (sink.options for sink in self.settings.audit_sinks if sink.name == "jsonl"), {}
        )
        schema = self.registry.get(AuditSinkSpec, "jsonl").options
        path = resolve_options(schema, table, self.where("audit.jsonl")).get("path")
        return Path(path).expanduser() if path else defaults.audit_log_path(self.settings.log_dir)

    # --- backends ---------------------------------------------------------------------------

    def backend_name(self, backend_type: object) -> str:
        return plugin_name(backend_type) if backend_type else self.settings.default_backend  # type: ignore[arg-type]

    def configured_backend_names(self) -> list[str]:
        names = [self.settings.default_backend]
        names += [n for n in self.settings.backends if n not in names]
        return names

    def backend(self, name: str | None) -> tuple[BackendSpec, StorageBackend]:
        name = name or self.settings.default_backend
        built = self.backends.get(name)  # every call asks: no lock once it is built
        if built is not None:
            return built
        with self._lock:
            if name not in self.backends:
                self.backends[name] = self.make_backend(name)
            return self.backends[name]

    def make_backend(
        self, name: str, table: Mapping[str, Any] | None = None
    ) -> tuple[BackendSpec, StorageBackend]:
        """Build a backend from its validated ``[backends.NAME]`` table (or ``table``)."""
        if not self.backends:  # the first one: a table naming no installed backend is a typo
            for configured in self.settings.backends:
                if not self.registry.installed("backend", configured):
                    self.configured(BackendSpec, configured, f"backends.{configured}")
        spec = self.registry.get(BackendSpec, name)

        def make(options: Mapping[str, Any], context: PluginContext) -> Any:
            backend = spec.make(options, context)
            return backend, getattr(backend, "capabilities", None)  # may reach the server

        backend, narrowed = self._from_table(name, spec, make, "could not be created", table)
        if narrowed is not None:  # what this instance can do (see StorageBackend)
            spec = spec._replace(capabilities=spec.capabilities & frozenset(narrowed))
        return spec, cast(StorageBackend, GuardedBackend(backend, name))

    def dynamic_credentials(self, name: str | None = None) -> DynamicCredentials:
        """The :class:`~secrets_core.plugin.DynamicCredentials` of backend ``name`` (None:
        the first configured backend whose plugin provides them), built from its table."""
        names = [name] if name else self.configured_backend_names()
        for candidate in names:
            spec = self.registry.get(BackendSpec, candidate)
            if spec.dynamic is not None:
                make = load_callable(spec.dynamic, f"backend '{candidate}' (dynamic)")
                return cast(
                    DynamicCredentials,
                    self._from_table(candidate, spec, make, "gave no dynamic credentials"),
                )
        which = f"backend '{name}' does" if name else "no configured backend does"
        raise BackendConfigurationError(
            f"{which} not issue dynamic credentials; configure a backend whose plugin does "
            "(e.g. [backends.vault] of secure-secrets-vault, see docs/dynamic-secrets.md) and "
            "name it with --backend"
        )

    def backend_paths(self, name: str) -> Mapping[str, Path]:
        """The private paths backend ``name`` declares (its descriptor's ``paths``), by label."""
        spec = self.registry.get(BackendSpec, name)
        if spec.paths is None:
            return {}
        make = load_callable(spec.paths, f"backend '{name}' (paths)")
        paths: Mapping[str, Path] = self._from_table(name, spec, make, "has no paths")
        return paths

    def backend_description(self, name: str) -> str:
        """What a slow call to backend ``name`` waits for (its descriptor's ``describe``), else
        ``the NAME backend``. Offline; never raises."""
        fallback = f"the {name} backend"
        try:
            spec = self.registry.get(BackendSpec, name)
            if spec.describe is None:
                return fallback
            describe = load_callable(spec.describe, f"backend '{name}' (describe)")
            text = self._from_table(name, spec, lambda o, _c: describe(o), "has no description")
        except Exception:  # noqa: BLE001  # the operation itself reports what is wrong
            return fallback
        return text if isinstance(text, str) and text else fallback

    def _from_table(
        self,
        name: str,
        spec: BackendSpec,
        make: Callable[[Mapping[str, Any], PluginContext], Any],
        failed: str,
        table: Mapping[str, Any] | None = None,
    ) -> Any:
        """``make(options, context)`` with the validated ``[backends.NAME]`` table (or
        ``table``: a store's recorded options over it). The options (which hold credentials)
        leave this frame before anything is raised, and the error's traceback is cut here (the
        frames below, ``make``'s and the plugin's, hold the options as arguments), so no
        traceback's locals show them; a plugin's own exception is reduced to its type."""
        where = self.where(f"backends.{name}")
        if table is None:
            table = self.settings.backends.get(name, {})
        options: Mapping[str, Any] | None = None
        error: SecretsError | None = None
        try:
            options = resolve_options(spec.options, table, where, BackendConfigurationError)
            made = make(options, self.context())
        except SecretsError as exc:
            error = exc
        except Exception as exc:  # a plugin's own exception may carry credentials
            error = BackendConfigurationError(
                f"backend '{name}' {failed} ({type(exc).__name__}); check {where}"
            )
        del options, table
        if error is not None:
            raise error.with_traceback(None)
        return made

    @staticmethod
    def require(spec: BackendSpec, capability: Capability) -> None:
        if capability not in spec.capabilities:
            raise BackendConfigurationError(
                f"backend '{spec.name}' does not support '{capability}'"
            )

    # --- keys -------------------------------------------------------------------------------

    @property
    def keyring_path(self) -> Path:
        return defaults.keyring_path(self.settings.data_dir)

    def configured(self, kind: type[S], name: str, key: str) -> S:
        """:meth:`PluginRegistry.get` for a name the config gives at ``key``; if it is not
        installed, the error names the key (a typo surfaces where it was made)."""
        try:
            return self.registry.get(kind, name)
        except PluginNotFoundError as exc:
            raise PluginNotFoundError(f"{self.where(key)}: {exc}") from None

    def key_manager(self) -> KeyManager:
        with self._lock:
            if self._keys is None:
                self.configured(CipherSpec, self.settings.cipher, "cipher")  # for new keys
                self._keys = KeyManager(
                    path=self.keyring_path,
                    source=self.key_source(
                        self.settings.key_source,
                        self.settings.key_source_options,
                        self.where("key_source"),
                    ),
                    source_name=self.settings.key_source,
                    new_key_cipher=self.settings.cipher,
                    cipher_for_name=self.cipher_spec,
                    may_create=self._no_ciphertext_in_use,
                )
            return self._keys

    def cipher_spec(self, name: str) -> CipherSpec:
        return self.registry.get(CipherSpec, name)

    def key_source(self, name: str, options: Mapping[str, Any], where: str) -> KeySource:
        spec = self.registry.get(KeySourceSpec, name)
        resolved = resolve_options(spec.options, options, where)
        source: KeySource = spec.make(resolved, self.context())
        return source

    def _no_ciphertext_in_use(self) -> bool:
        """True unless a backend this process uses (the default one, and any opened so far)
        already holds client-side ciphertext: then the keyring was lost, and a new one would
        not decrypt it. Other configured backends are not contacted: creating a keyring for
        the file store must not reach a Vault server."""
        names = [self.settings.default_backend, *self.backends]
        for name in dict.fromkeys(names):
            try:
                spec, backend = self.backend(name)
            except (BackendUnavailableError, ConfigError):
                continue
            if (
                Capability.ENCRYPTS_AT_REST not in spec.capabilities
                and Capability.LIST in spec.capabilities
                and backend.list_names("")
            ):
                return False
        return True

    @contextlib.contextmanager
    def encoder(self, spec: BackendSpec) -> Iterator[Callable[[str, SecretValue], bytes | str]]:
        """What to hand the backend for a value: the value itself where the backend encrypts
        at rest, else an envelope under the primary key, with the keyring held (shared) until
        the write is done so that a concurrent rotation cannot miss it (see
        :meth:`KeyManager.sealing`)."""
        if Capability.ENCRYPTS_AT_REST in spec.capabilities:
            yield lambda name, secret: secret.reveal()
            return
        first = not self.ledger.recorded(spec.name)
        self.ledger.record(spec.name)  # before sealing(): it may take the keyring lock
        with self.key_manager().sealing() as (key_id, cipher):

            def encode(name: str, secret: SecretValue) -> bytes:
                if first:
                    self.ledger.check_known_key(spec, name)
                return envelope.seal(cipher, key_id, name, secret)

            yield encode

    def decode(
        self,
        spec: BackendSpec,
        name: str,
        stored: bytes | str,
        details: dict[str, Any] | None = None,
    ) -> SecretValue:
        if Capability.ENCRYPTS_AT_REST in spec.capabilities:
            return SecretValue(stored)
        key_id = envelope.key_id_of(stored, name)
        keys = self._keys or self.key_manager()
        secret = envelope.open_token(keys.cipher_for(key_id, name), stored, name, key_id)
        if details is not None and key_id != keys.primary_id():
            details["stale_key"] = True  # under an old key: rotation unfinished, or a replay
        return secret

    # --- validation -------------------------------------------------------------------------

    def validation_problems(self) -> list[str]:
        """Every problem found by resolving what the config names, the way the parts would
        be built, but building nothing: no backend, key source or sink is created, so nothing
        is connected to."""
        settings, registry = self.settings, self.registry
        problems: list[str] = []

        def check(action: Callable[..., object], *args: Any) -> None:
            try:
                action(*args)
            except SecretsError as exc:
                problems.append(str(exc))

        def options(kind: type, name: str, table: Any, where: str) -> None:
            spec: Any = registry.get(kind, name)
            resolved = resolve_options(spec.options, table, self.where(where))
            validate.bind(spec).factory.validate(resolved)  # the plugin's own offline checks

        for name in self.configured_backend_names():
            check(self.configured, BackendSpec, name, f"backends.{name}")
            if registry.has("backend", name):
                check(options, BackendSpec, name, settings.backends.get(name, {}),
                      f"backends.{name}")  # fmt: skip
        check(self.configured, CipherSpec, settings.cipher, "cipher")
        check(self.kdf, None, None)
        check(options, KeySourceSpec, settings.key_source,
              settings.key_source_options, "key_source")  # fmt: skip
        for sink in settings.audit_sinks:
            check(options, AuditSinkSpec, sink.name, sink.options, f"audit.{sink.name}")
        installed = set(registry.names("audit sink"))
        for table in sorted(settings.audit_tables - installed):
            problems.append(
                f"{self.where(f'audit.{table}')}: no audit sink named '{table}' is installed"
            )
        return problems

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close backends and audit sinks; they are rebuilt if used again."""
        with self._lock:
            for _spec, backend in self.backends.values():
                backend.close()
            for backend in self.ledger.opened:
                backend.close()
            self.backends.clear()
            self.ledger.opened.clear()
            if self._trail is not None:
                self._trail.close()
                self._trail = None


def list_plugins(policy: PluginPolicy | None = None) -> list[PluginInfo]:
    """Installed plugins with distribution, version, status and the hooks each implements.

    With no argument the policy (allow/block lists, strict mode) comes from the config file
    and the environment, as a manager would use it.
    """
    if policy is None:
        policy = load_settings().plugins
    return get_registry(policy).plugins()
