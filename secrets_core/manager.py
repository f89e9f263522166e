"""The manager: the public API over one :class:`~secrets_core.assembly.Assembly`.

CRUD on secrets, capability checks, key operations and scoped handles. Every call is one
audited operation; what the backends, keys and sinks are is the assembly's business, and key
rotation lives in :mod:`secrets_core.rotation`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from secrets_core import redaction
from secrets_core.arguments import checked, checked_arguments
from secrets_core.assembly import Assembly, GuardedBackend
from secrets_core.audit import AuditEvent, Operation
from secrets_core.config import Settings, load_settings
from secrets_core.errors import InvalidSecretValueError
from secrets_core.keys import envelope
from secrets_core.names import validate_name, validate_prefix
from secrets_core.plugin._api import (
    Capability,
    CasBackend,
    MetadataBackend,
    SecretMetadata,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
)
from secrets_core.plugin._registry import PluginPolicy, PluginRegistry
from secrets_core.secret import SecretValue

if TYPE_CHECKING:
    from secrets_core.audit import AuditVerification
    from secrets_core.rotation import ProgressCallback
    from secrets_core.scoped import ScopedSecrets


def __getattr__(name: str) -> Any:
    """Types only annotations use, imported when an argument check (or a caller) first asks
    for them (PEP 562): rotation and scoped handles are not needed to read or write."""
    if name == "ProgressCallback":
        from secrets_core.rotation import ProgressCallback as value
    elif name == "ScopedSecrets":
        from secrets_core.scoped import ScopedSecrets as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


PUBLIC_NAME = "SecureSecretsManager"  # what ``secure_secrets`` exports this class as


@checked_arguments
class SecretsManager:
    """Store, retrieve, delete and rotate secrets across configured backends.

    >>> m = SecretsManager()                    # doctest: +SKIP
    >>> event = m.store_secret("db_password", "s3cret")  # doctest: +SKIP

    Arguments override the environment, which overrides the config file (see
    docs/configuration.md). ``default_backend`` and the keys of ``backends`` may be
    :class:`~secrets_core.config.BackendType` members or any installed backend's name.
    ``registry`` replaces plugin discovery with a given
    :class:`~secrets_core.plugin.PluginRegistry` (to try a plugin before installing it).
    """

    @checked
    def __init__(
        self,
        default_backend: str | enum.Enum | None = None,
        backends: Mapping[Any, Mapping[str, Any]] | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        cipher: str | None = None,
        key_source: str | None = None,
        audit_sinks: list[str] | None = None,
        key_source_options: Mapping[str, Any] | None = None,
        audit_sink_options: Mapping[str, Mapping[str, Any]] | None = None,
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
            key_source_options=key_source_options,
            audit_sink_options=audit_sink_options,
            data_dir=data_dir,
            plugin_policy=plugin_policy,
            profile=profile,
        )
        self.assembly = Assembly(self.settings, registry)
        """The composition root: backends, keys and audit built from the settings."""

    def __repr__(self) -> str:  # the public name (secure_secrets), or a subclass's own
        kind = PUBLIC_NAME if type(self) is SecretsManager else type(self).__name__
        return f"{kind}(default_backend={self.settings.default_backend!r})"

    # --- public API ---------------------------------------------------------------------------

    @property
    def default_backend(self) -> str:
        return self.settings.default_backend

    @property
    def registry(self) -> PluginRegistry:
        return self.assembly.registry

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
        refused: InvalidSecretValueError | None = None
        try:
            secret = SecretValue.to_store(value)
        except InvalidSecretValueError as exc:
            refused = exc  # raised inside the operation below, so the refusal is audited
        finally:
            del value  # keep the raw value out of this frame's traceback locals
        with self.assembly.operation(Operation.STORE, name, backend_type) as op:
            if refused is not None:
                raise refused
            spec, backend = self.assembly.backend(op.backend)
            if metadata is not None:
                self.assembly.require(spec, Capability.METADATA)
            if cas is not None:
                self.assembly.require(spec, Capability.CAS)
                if cas < 0:
                    raise InvalidSecretValueError("cas must be a version number >= 0")
                op.details["cas"] = cas
            # (the encoder's result may be plaintext: never bind it to a local)
            with self.assembly.encoder(spec) as encode:
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
        return op.completed_event

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
        assembly = self.assembly
        if version is None and (assembly.trail_if_open or assembly.audit_trail()).empty:
            # Nobody records reads, so there is no event to build: the lean path of a
            # read-heavy application (no locks once the backend is open).
            name = validate_name(name)
            backend_name = assembly.backend_name(backend_type)
            spec, backend = assembly.backend(backend_name)
            value = assembly.decode(spec, name, backend.read(name)).reveal()
            redaction.remember(value)  # a no-op unless redact_logs() was called
            return value
        with self.assembly.operation(Operation.RETRIEVE, name, backend_type) as op:
            spec, backend = self.assembly.backend(op.backend)
            if version is None:
                stored = backend.read(op.name or "")
            else:
                self.assembly.require(spec, Capability.VERSIONS)
                op.details["version"] = version
                stored = cast(VersionedBackend, backend).read_version(op.name or "", version)
            secret = self.assembly.decode(spec, op.name or "", stored, op.details)
        value = secret.reveal()
        redaction.remember(value)
        return value

    def secret_metadata(
        self, name: str, backend_type: str | enum.Enum | None = None
    ) -> SecretMetadata:
        """Created/updated times, versions and custom metadata (``Capability.METADATA``)."""
        with self.assembly.operation(Operation.METADATA, name, backend_type) as op:
            spec, backend = self.assembly.backend(op.backend)
            self.assembly.require(spec, Capability.METADATA)
            return cast(MetadataBackend, backend).metadata(op.name or "")

    def restore_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Undo a soft delete (``Capability.SOFT_DELETE``)."""
        with self.assembly.operation(Operation.RESTORE, name, backend_type) as op:
            spec, backend = self.assembly.backend(op.backend)
            self.assembly.require(spec, Capability.SOFT_DELETE)
            cast(SoftDeleteBackend, backend).restore(op.name or "")
        return op.completed_event

    def purge_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Destroy a secret and all its versions, deleted or not (``Capability.SOFT_DELETE``;
        on other backends, the same as :meth:`delete_secret`)."""
        with self.assembly.operation(Operation.PURGE, name, backend_type) as op:
            spec, backend = self.assembly.backend(op.backend)
            if Capability.SOFT_DELETE in spec.capabilities:
                cast(SoftDeleteBackend, backend).purge(op.name or "")
            else:
                backend.delete(op.name or "")
        return op.completed_event

    def delete_secret(self, name: str, backend_type: str | enum.Enum | None = None) -> AuditEvent:
        """Delete ``name`` (a soft delete, undone by :meth:`restore_secret`, on backends with
        ``Capability.SOFT_DELETE``). Raises :class:`~secrets_core.errors.SecretNotFoundError`
        if absent."""
        with self.assembly.operation(Operation.DELETE, name, backend_type) as op:
            _spec, backend = self.assembly.backend(op.backend)
            backend.delete(op.name or "")
        return op.completed_event

    def list_secrets(
        self, prefix: str = "", backend_type: str | enum.Enum | None = None
    ) -> list[str]:
        """Names stored in a backend, optionally only those starting with ``prefix``."""
        with self.assembly.operation(Operation.LIST, backend_type=backend_type) as op:
            prefix = validate_prefix(prefix)
            spec, backend = self.assembly.backend(op.backend)
            self.assembly.require(spec, Capability.LIST)
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
        from secrets_core.rotation import rotate

        with self.assembly.operation(Operation.ROTATE) as op:
            rotate(self.assembly, op.details, progress, keep_old_keys)
        return op.completed_event

    def change_key_source(
        self, key_source: str, options: Mapping[str, Any] | None = None, *, rotate: bool = False
    ) -> AuditEvent:
        """Protect the data keys with a KEK from another key source (or the same source with
        new options, e.g. a new key file path) and make a fresh primary data key for new
        writes. ``rotate`` also re-encrypts every stored value under it and retires the old
        keys (as ``rotate_encryption_key(keep_old_keys=0)``), so an old keyring backup opens
        nothing; without it only the keyring is rewritten. Later managers must be configured
        with the new source."""
        from secrets_core import rekey

        with self.assembly.operation(Operation.CHANGE_KEY_SOURCE) as op:
            source = rekey.new_key_source(self.assembly, key_source, options or {})
            rekey.rewrap(self.assembly, source, key_source, op.details, rotate)
            op.details["key_source"] = key_source
        return op.completed_event

    def change_passphrase(self, new_passphrase: str, *, rotate: bool = False) -> AuditEvent:
        """Re-wrap the data keys under a KEK derived from ``new_passphrase`` (fresh salt) and
        make a fresh primary data key for new writes; ``rotate`` also re-encrypts every
        stored value (see :meth:`change_key_source`). The current passphrase is needed once
        to unlock."""
        from secrets_core import rekey

        with self.assembly.operation(Operation.CHANGE_PASSPHRASE) as op:
            try:
                secret = SecretValue(new_passphrase)
            finally:
                del new_passphrase
            source = rekey.new_passphrase_source(self.assembly, secret)
            rekey.rewrap(self.assembly, source, "passphrase", op.details, rotate)
        return op.completed_event

    # --- keys and stored tokens ----------------------------------------------------------------

    @property
    def keyring_path(self) -> Path:
        """Where the keyring (wrapped data keys, rotation journal) is kept."""
        return self.assembly.keyring_path

    def initialize_keys(self) -> str:
        """Create the keyring and its first data key if there is none (asking the key source
        for a new key-encryption key), else unlock it. Returns the primary data key id."""
        key_id, _cipher = self.assembly.key_manager().primary()
        return key_id

    def key_ids(self) -> list[str]:
        """The data key ids in the keyring (unlocking it; raises
        :class:`~secrets_core.errors.KeyNotAvailableError` if there is no keyring)."""
        return self.assembly.key_manager().key_ids()

    def rotation_pending(self) -> str | None:
        """The new key id of a rotation that was interrupted (run the rotation again to
        finish it), or None."""
        return self.assembly.key_manager().rotation_pending()

    def backend_capabilities(
        self, backend_type: str | enum.Enum | None = None
    ) -> frozenset[Capability]:
        """What a backend can do, as this instance is configured (a Vault KV v1 mount has
        fewer capabilities than its descriptor). Constructs (and so reaches) the backend."""
        spec, _backend = self.assembly.backend(self.assembly.backend_name(backend_type))
        return spec.capabilities

    def backend(self, backend_type: str | enum.Enum | None = None) -> StorageBackend:
        """The backend instance itself, for backend-specific features (the Vault backend's
        dynamic secrets, say). Calls made on it bypass this manager's envelope, audit and
        access policies."""
        _spec, backend = self.assembly.backend(self.assembly.backend_name(backend_type))
        guarded = cast(GuardedBackend, backend)
        return cast(StorageBackend, guarded.inner)

    def seal(self, name: str, value: str | bytes) -> bytes:
        """The client-side envelope for ``value`` under the primary data key, bound to
        ``name``: what a backend without ``ENCRYPTS_AT_REST`` stores. Opens with
        :meth:`open_sealed` in any process sharing the keyring."""
        try:
            secret = SecretValue(value)
        finally:
            del value
        key_id, cipher = self.assembly.key_manager().primary()
        return envelope.seal(cipher, key_id, validate_name(name), secret)

    def open_sealed(self, name: str, token: bytes | str) -> str | bytes:
        """The value inside an envelope made by :meth:`seal` (or read from a client-side
        encrypted backend) for ``name``; raises
        :class:`~secrets_core.errors.IntegrityError` if it is not one, or was made for
        another name."""
        name = validate_name(name)
        key_id = envelope.key_id_of(token, name)
        cipher = self.assembly.key_manager().cipher_for(key_id, name)
        return envelope.open_token(cipher, token, name, key_id).reveal()

    def read_stored(self, name: str, backend_type: str | enum.Enum | None = None) -> bytes | str:
        """The value as the backend stores it, without decrypting: the sealed envelope on
        client-side-encrypted backends (for a ciphertext export), the plaintext on
        ``ENCRYPTS_AT_REST`` ones. Audited as operation ``read_stored``."""
        with self.assembly.operation(Operation.READ_STORED, name, backend_type) as op:
            _spec, backend = self.assembly.backend(op.backend)
            return backend.read(op.name or "")

    def scoped(
        self, *names: str, read_only: bool = False, policy: str | None = None
    ) -> ScopedSecrets:
        """A handle limited to ``names`` (exact names, or prefixes ending in ``/``), read-only
        if asked, or to the named ``[policies.NAME]`` of the config."""
        from secrets_core.scoped import ScopedSecrets

        return ScopedSecrets.granting(self, names, read_only, policy)

    def verify_audit_log(
        self, path: str | os.PathLike[str] | None = None, *, anchor: str | None = None
    ) -> AuditVerification:
        """Check a JSON-lines audit log (default: the configured ``jsonl`` sink's file, with
        its rotated files): the HMAC chain, its anchor in the keyring, the checkpoint, and
        with ``anchor`` (a head ``SEQ:MAC`` saved from :meth:`audit_head`) that the log still
        holds that head. See docs/audit.md for what each ``status`` and ``reason`` means."""
        log_path = Path(path).expanduser() if path is not None else None
        return self.assembly.verify_audit_log(log_path, anchor)

    @property
    def audit_log_path(self) -> Path:
        """The JSON-lines audit log: the ``jsonl`` sink's file (its default path if none)."""
        return self.assembly.audit_log_path()

    def audit_head(self) -> str | None:
        """The log's current head, ``SEQ:MAC`` of its last authenticated line, to keep
        somewhere an attacker who can write this host cannot (``audit verify --anchor``)."""
        head = self.assembly.verify_audit_log(None, None).head
        return f"{head[0]}:{head[1]}" if head else None

    def close(self) -> None:
        """Close backends and audit sinks. The manager reopens them if used again."""
        self.assembly.close()

    def __enter__(self) -> SecretsManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
