"""The manager: composes a storage backend, a cipher, keys and audit sinks.

Backends, keys and sinks are built lazily, on first use, so constructing a manager does no
I/O beyond reading the config, and a manager configured for an unreachable Vault still
serves the local file backend.
"""

from __future__ import annotations

import _thread  # threading's locks without importing threading: it costs every CLI start
import contextlib
import enum
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from secrets_core import envelope, redaction
from secrets_core.audit import AuditEvent, AuditTrail, Outcome
from secrets_core.audit_chain import AuditVerification, verify_log
from secrets_core.config import (
    DEFAULT_KDF,
    AccessPolicy,
    PluginPolicy,
    Settings,
    load_settings,
    plugin_name,
    resolve_options,
)
from secrets_core.descriptors import (
    AuditSink,
    BackendSpec,
    Capability,
    CasBackend,
    Kdf,
    MetadataBackend,
    PluginContext,
    RewrappingCipher,
    SecretMetadata,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
)
from secrets_core.errors import (
    AccessDeniedError,
    BackendConfigurationError,
    BackendUnavailableError,
    ConfigError,
    InvalidSecretValueError,
    SecretNotFoundError,
    SecretsError,
)
from secrets_core.keyring import KeyManager
from secrets_core.lazylog import get_logger
from secrets_core.names import validate_name, validate_prefix
from secrets_core.plugins import PluginRegistry, get_registry
from secrets_core.scoped import ScopedSecrets
from secrets_core.secret import SecretValue

log = get_logger("secrets_core")

#: ``progress(backend, done, total)`` is called as rotation re-encrypts secrets.
ProgressCallback = Callable[[str, int, int], None]


_UNNAMED = object()
_CHANGES = frozenset(
    {"store", "delete", "restore", "purge", "rotate", "change_key_source", "change_passphrase"}
)
# operations that return no event
_READS = frozenset({"retrieve", "list", "metadata", "read_stored"})
_BACKENDLESS = frozenset({"rotate", "change_key_source", "change_passphrase"})


class _Operation:
    """Audits one manager call: a success event on normal exit, a failure (or denied) event
    carrying only the error type when it raises."""

    def __init__(self, trail: AuditTrail, operation: str, backend: str | None, name: str | None):
        self.trail = trail
        self.operation = operation
        self.backend = backend
        self.name = name
        self.details: dict[str, Any] = {}
        self.event: AuditEvent | None = None

    def __enter__(self) -> _Operation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.trail.sinks and self.operation in _READS:
            return  # nobody records it and the caller gets no event: skip building one
        outcome: Outcome = "success"
        if exc_type is not None:
            outcome = "denied" if issubclass(exc_type, AccessDeniedError) else "failure"
        self.event = AuditEvent(
            operation=self.operation,
            backend=self.backend,
            secret_name=self.name,
            outcome=outcome,
            error_type=exc_type.__name__ if exc_type else None,
            details=self.details,
        )
        if exc_type is None:
            self.trail.emit(self.event)  # a required sink failing raises AuditError here
            return
        try:
            self.trail.emit(self.event)
        except SecretsError:
            log.error("audit of failed %s could not be recorded", self.operation)


class _Guarded:
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


class SecretsManager:
    """Store, retrieve, delete and rotate secrets across configured backends.

    >>> m = SecretsManager()                    # doctest: +SKIP
    >>> event = m.store_secret("db_password", "s3cret")  # doctest: +SKIP

    Arguments override the environment, which overrides the config file (see
    docs/configuration.md). ``default_backend`` and the keys of ``backends`` may be
    :class:`~secrets_core.config.BackendType` members or any installed backend's name.
    ``registry`` replaces plugin discovery with a given
    :class:`~secrets_core.plugins.PluginRegistry` (to try a plugin before installing it).
    """

    def __init__(
        self,
        default_backend: str | enum.Enum | None = None,
        backends: Mapping[Any, Mapping[str, Any]] | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        cipher: str | None = None,
        key_source: str | None = None,
        audit_sinks: list[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        plugin_policy: PluginPolicy | None = None,
        registry: PluginRegistry | None = None,
        profile: str | None = None,
    ) -> None:
        self.settings: Settings = load_settings(
            config_path=config_path,
            default_backend=default_backend,
            backends=backends,
            cipher=cipher,
            key_source=key_source,
            audit_sinks=audit_sinks,
            data_dir=data_dir,
            plugin_policy=plugin_policy,
            profile=profile,
        )
        self._lock = _thread.RLock()
        self._registry = registry  # None: the process-wide registry for the policy
        self._backends: dict[str, tuple[BackendSpec, StorageBackend]] = {}
        self._keys: KeyManager | None = None
        self._trail: AuditTrail | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(default_backend={self.settings.default_backend!r})"

    # --- public API ---------------------------------------------------------------------------

    @property
    def default_backend(self) -> str:
        return self.settings.default_backend

    @property
    def registry(self) -> PluginRegistry:
        with self._lock:
            if self._registry is None:
                self._registry = get_registry(self.settings.plugins)
            return self._registry

    def store_secret(
        self,
        name: str,
        value: str | bytes,
        backend_type: str | enum.Enum | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        cas: int | None = None,
    ) -> AuditEvent:
        """Store ``value`` (``str`` or ``bytes``) under ``name``, replacing any previous value
        (kept as an older version where the backend has versions). ``metadata`` sets custom
        metadata (backends with ``Capability.METADATA``). ``cas`` (backends with
        ``Capability.CAS``) writes only if the current version is ``cas`` (0: only if the
        secret does not exist), else raises :class:`~secrets_core.errors.ConflictError`.
        Returns the audit event; its ``details["version"]`` is the new version number when
        the backend has versions."""
        kind = type(value).__name__
        try:
            secret: SecretValue | None = SecretValue(value)
        except InvalidSecretValueError:
            secret = None
        finally:
            del value  # keep the raw value out of this frame's traceback locals
        with self._operation("store", name, backend_type) as op:
            if secret is None:
                raise InvalidSecretValueError(f"secret value must be str or bytes, not {kind}")
            spec, backend = self._backend(op.backend)
            if metadata is not None:
                self._require(spec, Capability.METADATA)
            if cas is not None:
                self._require(spec, Capability.CAS)
                if isinstance(cas, bool) or not isinstance(cas, int) or cas < 0:
                    raise InvalidSecretValueError("cas must be a version number >= 0")
                op.details["cas"] = cas
            with self._encoder(spec) as encode:  # (its result may be plaintext: never a local)
                if cas is None:
                    version = backend.write(op.name or "", encode(op.name or "", secret))
                else:
                    version = cast(CasBackend, backend).write(
                        op.name or "", encode(op.name or "", secret), cas=cas
                    )
            if version is not None:
                op.details["version"] = version
            if metadata is not None:
                cast(MetadataBackend, backend).set_custom_metadata(op.name or "", metadata)
        assert op.event is not None
        return op.event

    def retrieve_secret(
        self,
        name: str,
        backend_type: str | enum.Enum | None = None,
        *,
        version: int | None = None,
    ) -> str | bytes:
        """Return the value stored under ``name``, as the type it was stored with; an older
        ``version`` where the backend has versions. Raises
        :class:`~secrets_core.errors.SecretNotFoundError` if there is none."""
        if version is None and (self._trail or self._audit_trail()).empty:
            # Nobody records reads, so there is no event to build: the lean path of a
            # read-heavy application (no locks once the backend is open).
            name = validate_name(name)
            backend_name = self._backend_name(backend_type)
            spec, backend = self._backends.get(backend_name) or self._backend(backend_name)
            value = self._decode(spec, name, backend.read(name)).reveal()
            redaction.remember(value)  # a no-op unless redact_logs() was called
            return value
        with self._operation("retrieve", name, backend_type) as op:
            spec, backend = self._backend(op.backend)
            if version is None:
                stored = backend.read(op.name or "")
            else:
                self._require(spec, Capability.VERSIONS)
                op.details["version"] = version
                stored = cast(VersionedBackend, backend).read_version(op.name or "", version)
            secret = self._decode(spec, op.name or "", stored, op.details)
        value = secret.reveal()
        redaction.remember(value)
        return value

    def secret_metadata(
        self, name: str, backend_type: str | enum.Enum | None = None
    ) -> SecretMetadata:
        """Created/updated times, versions and custom metadata (``Capability.METADATA``)."""
        with self._operation("metadata", name, backend_type) as op:
            spec, backend = self._backend(op.backend)
            self._require(spec, Capability.METADATA)
            return cast(MetadataBackend, backend).metadata(op.name or "")

    def restore_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Undo a soft delete (``Capability.SOFT_DELETE``)."""
        with self._operation("restore", name, backend_type) as op:
            spec, backend = self._backend(op.backend)
            self._require(spec, Capability.SOFT_DELETE)
            cast(SoftDeleteBackend, backend).restore(op.name or "")
        assert op.event is not None
        return op.event

    def purge_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Destroy a secret and all its versions, deleted or not (``Capability.SOFT_DELETE``;
        on other backends, the same as :meth:`delete_secret`)."""
        with self._operation("purge", name, backend_type) as op:
            spec, backend = self._backend(op.backend)
            if Capability.SOFT_DELETE in spec.capabilities:
                cast(SoftDeleteBackend, backend).purge(op.name or "")
            else:
                backend.delete(op.name or "")
        assert op.event is not None
        return op.event

    def delete_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Delete ``name`` (a soft delete, undone by :meth:`restore_secret`, on backends with
        ``Capability.SOFT_DELETE``). Raises :class:`~secrets_core.errors.SecretNotFoundError`
        if absent."""
        with self._operation("delete", name, backend_type) as op:
            _spec, backend = self._backend(op.backend)
            backend.delete(op.name or "")
        assert op.event is not None
        return op.event

    def list_secrets(
        self, prefix: str = "", backend_type: str | enum.Enum | None = None
    ) -> list[str]:
        """Names stored in a backend, optionally only those starting with ``prefix``."""
        with self._operation("list", backend_type=backend_type) as op:
            prefix = validate_prefix(prefix)
            spec, backend = self._backend(op.backend)
            self._require(spec, Capability.LIST)
            names = sorted(backend.list_names(prefix))
            op.details["count"] = len(names)
        return names

    def rotate_encryption_key(
        self, *, progress: ProgressCallback | None = None, keep_old_keys: int = 1
    ) -> AuditEvent:
        """Make a new primary data key and re-encrypt every client-side-encrypted secret in the
        default backend and every configured backend under it. Old keys are retired only after
        every secret decrypts under the new key; the ``keep_old_keys`` newest are kept.

        Returns an event whose ``details["backends"]`` holds rotated/skipped/failed counts.
        """
        with self._operation("rotate") as op:
            keys = self._key_manager()
            primary_id, primary = keys.primary()
            if isinstance(primary, RewrappingCipher):
                self._rotate_on_server(op.details, primary_id, primary, progress)
            else:
                self._rotate_data_key(op.details, keys, progress, keep_old_keys)
        assert op.event is not None
        return op.event

    def _rotate_data_key(
        self,
        details: dict[str, Any],
        keys: KeyManager,
        progress: ProgressCallback | None,
        keep_old_keys: int,
    ) -> None:
        new_id, resumed = keys.begin_rotation()
        details.update(new_key_id=new_id, resumed=resumed)
        counts: dict[str, dict[str, int]] = {}
        details["backends"] = counts
        for name in self._configured_backend_names():
            counts[name] = self._rotate_backend(name, self._resealer(new_id), progress)
        self._raise_if_failed(counts)
        details["retired_key_ids"] = keys.finish_rotation(keep_old_keys)

    def _rotate_on_server(
        self,
        details: dict[str, Any],
        key_id: str,
        cipher: RewrappingCipher,
        progress: ProgressCallback | None,
    ) -> None:
        """Rotate the cipher's server key and rewrap every token under it: the data key (and
        so the key id) stays, and the server re-encrypts (each result is verified by one
        decryption before it replaces the old token). Resuming is running it
        again: tokens already under the newest server key are left alone."""
        cipher.rotate_server_key()
        details.update(key_id=key_id, server_rewrap=True)
        counts: dict[str, dict[str, int]] = {}
        details["backends"] = counts
        keys = self._key_manager()
        to_primary = self._resealer(key_id)

        def rewrap(secret_name: str, token: bytes | str) -> bytes | None:
            if envelope.key_id_of(token, secret_name) != key_id:  # under an older data key
                return to_primary(secret_name, token)
            rewrapped = envelope.rewrap(cipher, token, secret_name)
            if rewrapped is not None:  # verify before the backend replaces the old token
                envelope.open_token(keys.cipher_for(key_id, secret_name), rewrapped, secret_name)
            return rewrapped

        for name in self._configured_backend_names():
            counts[name] = self._rotate_backend(name, rewrap, progress)
        self._raise_if_failed(counts)

    @staticmethod
    def _raise_if_failed(counts: Mapping[str, Mapping[str, int]]) -> None:
        failed = [name for name, c in counts.items() if c["failed"]]
        if failed:
            raise BackendUnavailableError(
                f"rotation could not reach backend {', '.join(failed)}; old keys are kept "
                "so nothing is lost; fix the backend and run the rotation again to resume"
            )

    def change_key_source(
        self, key_source: str, options: Mapping[str, Any] | None = None
    ) -> AuditEvent:
        """Protect the data keys with a KEK from another key source (or the same source with
        new options, e.g. a new key file path). Only the keyring is rewritten; secrets are
        not re-encrypted. Later managers must be configured with the new source."""
        with self._operation("change_key_source") as op:
            spec = self.registry.key_source(key_source)
            resolved = resolve_options(spec.options, options or {}, "change_key_source()")
            if key_source == "keyfile" and self.settings.key_source == "keyfile":
                old = Path(
                    self.settings.key_source_options.get("path")
                    or self.settings.data_dir / "master.key"
                )
                new = Path(resolved.get("path") or self.settings.data_dir / "master.key")
                if old.expanduser() == new.expanduser():
                    raise ConfigError(
                        "a new key file needs a new path: change_key_source('keyfile', "
                        "{'path': NEW_PATH}); the old file is kept until you delete it"
                    )
            self._key_manager().rewrap(spec.factory(resolved, self._context()), key_source)
            op.details["key_source"] = key_source
        assert op.event is not None
        return op.event

    def change_passphrase(self, new_passphrase: str) -> AuditEvent:
        """Re-wrap the data keys under a KEK derived from ``new_passphrase`` (fresh salt).
        The current passphrase is needed once to unlock. No secret is re-encrypted."""
        from secrets_core.key_sources import PassphraseSource

        with self._operation("change_passphrase") as op:
            try:
                secret = SecretValue(new_passphrase)
            finally:
                del new_passphrase
            if self.settings.key_source != "passphrase":
                raise ConfigError(
                    f"the key source is '{self.settings.key_source}', not a passphrase; to "
                    "protect the keys with a passphrase instead, use "
                    "change_key_source('passphrase')"
                )
            options = resolve_options(
                self.registry.key_source("passphrase").options,
                self.settings.key_source_options,
                self._where("key_source"),
            )
            source = PassphraseSource(options, self._context(), passphrase=str(secret.reveal()))
            self._key_manager().rewrap(source, "passphrase")
        assert op.event is not None
        return op.event

    # --- keys and stored tokens ----------------------------------------------------------------

    @property
    def keyring_path(self) -> Path:
        """Where the keyring (wrapped data keys, rotation journal) is kept."""
        return self.settings.data_dir / "keyring.json"

    def initialize_keys(self) -> str:
        """Create the keyring and its first data key if there is none (asking the key source
        for a new key-encryption key), else unlock it. Returns the primary data key id."""
        key_id, _cipher = self._key_manager().primary()
        return key_id

    def key_ids(self) -> list[str]:
        """The data key ids in the keyring (unlocking it; raises
        :class:`~secrets_core.errors.KeyNotAvailableError` if there is no keyring)."""
        return self._key_manager().key_ids()

    def rotation_pending(self) -> str | None:
        """The new key id of a rotation that was interrupted (run the rotation again to
        finish it), or None."""
        return self._key_manager().rotation_pending()

    def backend_capabilities(
        self, backend_type: str | enum.Enum | None = None
    ) -> frozenset[Capability]:
        """What a backend can do, as this instance is configured (a Vault KV v1 mount has
        fewer capabilities than its descriptor). Constructs (and so reaches) the backend."""
        spec, _backend = self._backend(self._backend_name(backend_type))
        return spec.capabilities

    def backend(self, backend_type: str | enum.Enum | None = None) -> StorageBackend:
        """The backend instance itself, for backend-specific features (the Vault backend's
        dynamic secrets, say). Calls made on it bypass this manager's envelope, audit and
        access policies."""
        guarded = cast(_Guarded, self._backend(self._backend_name(backend_type))[1])
        return cast(StorageBackend, guarded.inner)

    def seal(self, name: str, value: str | bytes) -> bytes:
        """The client-side envelope for ``value`` under the primary data key, bound to
        ``name``: what a backend without ``ENCRYPTS_AT_REST`` stores. Opens with
        :meth:`open_sealed` in any process sharing the keyring."""
        try:
            secret = SecretValue(value)
        finally:
            del value
        key_id, cipher = self._key_manager().primary()
        return envelope.seal(cipher, key_id, validate_name(name), secret)

    def open_sealed(self, name: str, token: bytes | str) -> str | bytes:
        """The value inside an envelope made by :meth:`seal` (or read from a client-side
        encrypted backend) for ``name``; raises
        :class:`~secrets_core.errors.IntegrityError` if it is not one, or was made for
        another name."""
        name = validate_name(name)
        key_id = envelope.key_id_of(token, name)
        cipher = self._key_manager().cipher_for(key_id, name)
        return envelope.open_token(cipher, token, name, key_id).reveal()

    def read_stored(self, name: str, backend_type: str | enum.Enum | None = None) -> bytes | str:
        """The value as the backend stores it, without decrypting: the sealed envelope on
        client-side-encrypted backends (for a ciphertext export), the plaintext on
        ``ENCRYPTS_AT_REST`` ones. Audited as operation ``read_stored``."""
        with self._operation("read_stored", name, backend_type) as op:
            _spec, backend = self._backend(op.backend)
            return backend.read(op.name or "")

    def scoped(
        self, *names: str, read_only: bool = False, policy: str | None = None
    ) -> ScopedSecrets:
        """A handle limited to ``names`` (exact names, or prefixes ending in ``/``), read-only
        if asked, or to the named ``[policies.NAME]`` of the config."""
        if policy is not None:
            if names or read_only:
                raise ConfigError("give either names (and read_only) or a policy name, not both")
            if policy not in self.settings.policies:
                known = ", ".join(sorted(self.settings.policies)) or "none defined"
                raise ConfigError(f"no access policy named '{policy}' (policies: {known})")
            return ScopedSecrets(self, self.settings.policies[policy], f"policy '{policy}'")
        if not names:
            raise ConfigError("a scoped handle needs at least one name or prefix")
        for name in names:
            validate_prefix(name)
        granted = AccessPolicy(read=names, write=() if read_only else names)
        return ScopedSecrets(self, granted, f"handle scoped to {', '.join(names)}")

    def close(self) -> None:
        """Close backends and audit sinks. The manager reopens them if used again."""
        with self._lock:
            for _spec, backend in self._backends.values():
                backend.close()
            self._backends.clear()
            if self._trail is not None:
                self._trail.close()
                self._trail = None

    def __enter__(self) -> SecretsManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- composition --------------------------------------------------------------------------

    def _operation(
        self, operation: str, name: object = _UNNAMED, backend_type: object = None
    ) -> _Operation:
        """Start an audited operation. Operations on one secret pass its ``name`` (validated
        here, None included); changes first check that required audit sinks can record."""
        trail = self._audit_trail()
        backend = None
        if operation not in _BACKENDLESS:
            backend = self._backend_name(backend_type)
        op = _Operation(trail, operation, backend, None)
        try:
            if name is not _UNNAMED:
                op.name = validate_name(name)
            if operation in _CHANGES:
                trail.check_required()  # fail closed before changing anything
        except SecretsError:
            with op:  # a rejected name is not recorded: it could be a pasted value
                raise
        return op

    def _backend_name(self, backend_type: object) -> str:
        return plugin_name(backend_type) if backend_type else self.default_backend  # type: ignore[arg-type]

    def _audit_trail(self) -> AuditTrail:
        with self._lock:
            if self._trail is None:
                for table in sorted(self.settings.audit_tables):
                    if not self.registry.has("audit sink", table):
                        installed = ", ".join(self.registry.names("audit sink"))
                        raise ConfigError(
                            f"{self._where(f'audit.{table}')}: no audit sink named '{table}' "
                            f"is installed (installed: {installed}); a misspelt table would "
                            "silently disable its settings"
                        )
                sinks: list[tuple[str, AuditSink, bool]] = []
                for sink in self.settings.audit_sinks:
                    spec = self.registry.audit_sink(sink.name)
                    options = resolve_options(
                        spec.options, sink.options, self._where(f"audit.{sink.name}")
                    )
                    sinks.append((sink.name, spec.factory(options, self._context()), sink.required))
                self._trail = AuditTrail(sinks)
            return self._trail

    def _context(self) -> PluginContext:
        return self.settings.context._replace(kdf=self._kdf, audit_key=self._audit_key)

    def _audit_key(self) -> bytes | None:
        """The keyring's audit chain key, or None if there is no keyring yet (never creates
        one: a failed first operation must not make keys)."""
        keys = self._key_manager()
        return keys.audit_key() if keys.exists() else None

    def verify_audit_log(self, path: str | os.PathLike[str] | None = None) -> AuditVerification:
        """Check the HMAC chain and checkpoint of a JSON-lines audit log (default: the
        configured ``jsonl`` sink's file). Reports the first bad line, if any."""
        if path is None:
            options = next(
                (sink.options for sink in self.settings.audit_sinks if sink.name == "jsonl"), {}
            )
            path = options.get("path") or self.settings.log_dir / "audit.jsonl"
        keys = self._key_manager()
        # Without a keyring (only server-encrypted backends so far) nothing was chained, so an
        # empty key verifies the unchained lines and fails any line that claims a MAC.
        return verify_log(Path(path).expanduser(), keys.audit_key() if keys.exists() else b"")

    def _kdf(self, name: str | None, params: Mapping[str, int] | None) -> Kdf:
        """The configured KDF (``[kdf]``), or the one named with stored params."""
        if name is None:
            configured = dict(self.settings.kdf)
            name = str(configured.pop("name", DEFAULT_KDF))
            params = configured if params is None else params
        return self.registry.kdf(name).factory(params or {})

    def _where(self, table: str) -> str:
        origin = self.settings.config_file
        return f"[{table}]" + (f" in {origin}" if origin else "")

    def _backend(self, name: str | None) -> tuple[BackendSpec, StorageBackend]:
        name = name or self.default_backend
        with self._lock:
            if name not in self._backends:
                self._backends[name] = self._make_backend(name)
            return self._backends[name]

    def _make_backend(self, name: str) -> tuple[BackendSpec, StorageBackend]:
        """Build a backend from its validated ``[backends.NAME]`` table. The options (which
        hold credentials) leave this frame before anything is raised, so no traceback's
        locals show them; a plugin's own exception is reduced to its type."""
        spec = self.registry.backend(name)
        where = self._where(f"backends.{name}")
        table = self.settings.backends.get(name, {})
        options: Mapping[str, Any] | None = None
        error: SecretsError | None = None
        try:
            options = resolve_options(spec.options, table, where, BackendConfigurationError)
            backend = spec.factory(options, self._context())
            narrowed = getattr(backend, "capabilities", None)  # may reach the server
        except SecretsError as exc:
            error = exc
        except Exception as exc:  # a plugin's own exception may carry credentials
            error = BackendConfigurationError(
                f"backend '{name}' could not be created ({type(exc).__name__}); check {where}"
            )
        del options, table
        if error is not None:
            raise error
        if narrowed is not None:  # what this instance can do (see StorageBackend)
            spec = spec._replace(capabilities=spec.capabilities & frozenset(narrowed))
        return spec, cast(StorageBackend, _Guarded(backend, name))

    def _configured_backend_names(self) -> list[str]:
        names = [self.default_backend]
        names += [n for n in self.settings.backends if n not in names]
        return names

    def _key_manager(self) -> KeyManager:
        with self._lock:
            if self._keys is None:
                source_spec = self.registry.key_source(self.settings.key_source)
                options = resolve_options(
                    source_spec.options, self.settings.key_source_options, self._where("key_source")
                )
                self._keys = KeyManager(
                    path=self.settings.data_dir / "keyring.json",
                    source=source_spec.factory(options, self._context()),
                    source_name=self.settings.key_source,
                    new_key_cipher=self.settings.cipher,
                    cipher_for_name=self.registry.cipher,
                    may_create=self._no_ciphertext_stored,
                )
            return self._keys

    def _no_ciphertext_stored(self) -> bool:
        """True unless a configured backend (listable, client-side encrypted) already holds
        data: then the keyring was lost, and a new one would not decrypt it. Backends that
        cannot be reached now are skipped (they cannot be checked, and must not block the
        others)."""
        for name in self._configured_backend_names():
            try:
                spec, backend = self._backend(name)
            except (BackendUnavailableError, ConfigError):
                continue
            if (
                Capability.ENCRYPTS_AT_REST not in spec.capabilities
                and Capability.LIST in spec.capabilities
                and backend.list_names("")
            ):
                return False
        return True

    @staticmethod
    def _require(spec: BackendSpec, capability: Capability) -> None:
        if capability not in spec.capabilities:
            raise BackendConfigurationError(
                f"backend '{spec.name}' does not support '{capability}'"
            )

    @contextlib.contextmanager
    def _encoder(self, spec: BackendSpec) -> Iterator[Callable[[str, SecretValue], bytes | str]]:
        """What to hand the backend for a value: the value itself where the backend encrypts
        at rest, else an envelope under the primary key, with the keyring held (shared) until
        the write is done so that a concurrent rotation cannot miss it (see
        :meth:`KeyManager.sealing`)."""
        if Capability.ENCRYPTS_AT_REST in spec.capabilities:
            yield lambda name, secret: secret.reveal()
            return
        with self._key_manager().sealing() as (key_id, cipher):
            yield lambda name, secret: envelope.seal(cipher, key_id, name, secret)

    def _decode(
        self,
        spec: BackendSpec,
        name: str,
        stored: bytes | str,
        details: dict[str, Any] | None = None,
    ) -> SecretValue:
        if Capability.ENCRYPTS_AT_REST in spec.capabilities:
            return SecretValue(stored)
        key_id = envelope.key_id_of(stored, name)
        keys = self._keys or self._key_manager()
        secret = envelope.open_token(keys.cipher_for(key_id, name), stored, name, key_id)
        if details is not None and key_id != keys.primary_id():
            details["stale_key"] = True  # under an old key: rotation unfinished, or a replay
        return secret

    def _rotate_backend(
        self,
        name: str,
        reseal: Callable[[str, bytes | str], bytes | None],
        progress: ProgressCallback | None,
    ) -> dict[str, int]:
        counts = {"rotated": 0, "skipped": 0, "failed": 0}
        try:
            spec, backend = self._backend(name)
        except (BackendUnavailableError, ConfigError):
            counts["failed"] = 1
            return counts
        if Capability.LIST not in spec.capabilities:
            counts["failed"] = 1
            return counts
        names = sorted(backend.list_names(""))
        if Capability.SOFT_DELETE in spec.capabilities:  # deleted secrets can be restored
            names = sorted(set(names) | set(cast(SoftDeleteBackend, backend).list_deleted("")))
        if Capability.ENCRYPTS_AT_REST in spec.capabilities:
            counts["skipped"] = len(names)  # server-managed encryption
            return counts
        # rewrite_versions (VERSIONS) or rewrite (optional, one value) replaces a secret's
        # values under the backend's own lock; a read then a write could overwrite a value
        # another process stores in between.
        rewrite: Callable[[str, Callable[[bytes | str], bytes | str]], int | bool] | None = (
            cast(VersionedBackend, backend).rewrite_versions
            if Capability.VERSIONS in spec.capabilities
            else getattr(backend, "rewrite", None)
        )

        def rotate_one(secret_name: str) -> bool:
            if rewrite is None:
                return self._reseal_one(backend, secret_name, reseal)

            def transform(token: bytes | str) -> bytes | str:
                return reseal(secret_name, token) or token

            try:
                return bool(rewrite(secret_name, transform))
            except SecretNotFoundError:  # deleted concurrently
                return False

        for done, secret_name in enumerate(names, 1):
            counts["rotated" if rotate_one(secret_name) else "skipped"] += 1
            if progress is not None:
                progress(name, done, len(names))
        if Capability.VERSIONS not in spec.capabilities:
            # Second pass: every secret must now open under the new key. It also re-seals
            # what a concurrent writer holding a stale keyring stored under the old key.
            for secret_name in backend.list_names(""):
                if rotate_one(secret_name):
                    counts["rotated"] += 1
        return counts

    def _resealer(self, new_id: str) -> Callable[[str, bytes | str], bytes | None]:
        """A function re-sealing a token under ``new_id`` (verified), or returning None for a
        token that is already under it. A corrupt token raises, naming the secret, before
        any key is retired."""
        keys = self._key_manager()
        new_cipher = keys.cipher_for(new_id, "")

        def reseal(secret_name: str, token: bytes | str) -> bytes | None:
            key_id = envelope.key_id_of(token, secret_name)
            if key_id == new_id:
                envelope.open_token(new_cipher, token, secret_name)
                return None
            secret = envelope.open_token(keys.cipher_for(key_id, secret_name), token, secret_name)
            resealed = envelope.seal(new_cipher, new_id, secret_name, secret)
            envelope.open_token(new_cipher, resealed, secret_name)
            return resealed

        return reseal

    @staticmethod
    def _reseal_one(
        backend: StorageBackend,
        secret_name: str,
        reseal: Callable[[str, bytes | str], bytes | None],
    ) -> bool:
        try:
            token = backend.read(secret_name)
        except SecretNotFoundError:  # deleted concurrently
            return False
        resealed = reseal(secret_name, token)
        if resealed is None:
            return False
        backend.write(secret_name, resealed)
        return True
