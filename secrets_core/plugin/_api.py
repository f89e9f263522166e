"""Typed descriptors that plugins register, and the interfaces their factories return.

A registration hook returns descriptors (immutable named tuples: build them with keyword
arguments, derive a changed copy with ``_replace``). A ``factory`` is a callable or a
``"package.module:attribute"`` string that the core imports the first time it builds one
(so registering never imports the implementation). The registry checks every field when a
plugin registers, and checks that what a factory returns implements the family's interface.
The core picks the one configured implementation by name and calls its ``factory`` directly,
so secret values and key material never travel through a 1:N hook broadcast. A factory
should import its heavy dependency (hvac, boto3, ...) inside its body (or be a string), so
that registering stays cheap.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from secrets_core.plugin._factory import bind
from secrets_core.records import Record

if TYPE_CHECKING:
    from secrets_core.audit._events import AuditEvent


class Capability(str, enum.Enum):
    """What a storage backend can do beyond read/write/delete."""

    LIST = "list"
    """``list_names(prefix)`` enumerates stored names."""
    ENCRYPTS_AT_REST = "encrypts_at_rest"
    """The backend encrypts values itself; the manager stores them without an envelope."""
    VERSIONS = "versions"
    """Old versions are kept and can be read back."""
    METADATA = "metadata"
    """Created/updated times and user metadata per secret."""
    SOFT_DELETE = "soft_delete"
    """Delete can be undone until a purge."""
    CAS = "cas"
    """Check-and-set writes: ``write(name, value, cas=N)`` (see :class:`CasBackend`)."""
    MULTI_PROCESS = "multi_process"
    """Several processes may share one store at once: no write is lost, version numbers
    stay unique and increasing, and every process reads what the others wrote."""

    def __str__(self) -> str:
        return self.value


#: The default (empty, read-only) option table of a descriptor.
NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class ConfigOption(Record):
    """One option in a plugin's config table (``[backends.NAME]``, ``[cipher]``, ...).

    ``secret`` marks a credential: it is redacted wherever config is shown, and may be given
    as ``{ env = "VAR" }`` or ``{ file = "/path" }`` instead of its value (any string option
    may, but credentials should). ``env`` names the environment variable the plugin reads
    when the option is unset (``VAULT_TOKEN``, say): for a ``secret`` option, ``run`` keeps
    that variable out of the child's environment.
    """

    type: type | tuple[type, ...] = str
    default: Any = None
    required: bool = False
    secret: bool = False
    help: str = ""
    env: str | None = None


class RecordKey:
    """The key a storage plugin authenticates its records with (``PluginContext.record_key``).

    ``key``: 32 bytes derived from the keyring's integrity key with a label of its own (never
    a data key; unchanged by data-key rotation). ``legacy_readable``: whether records written
    without a MAC by an earlier version may still be read; False once every store of the
    keyring holds authenticated records only (a keyring made with authenticated records, or
    one a completed rotation has upgraded), so a record rewritten into the unkeyed format is
    refused. The key is kept out of ``repr``.
    """

    __slots__ = ("key", "legacy_readable")

    def __init__(self, key: bytes, legacy_readable: bool) -> None:
        self.key = key
        self.legacy_readable = legacy_readable

    def __repr__(self) -> str:
        return f"RecordKey(key=<hidden>, legacy_readable={self.legacy_readable})"


class PluginContext(Record):
    """Where plugins keep their files, resolved by the core from config/env/platformdirs.

    ``kdf(name, params)`` builds a configured key-derivation function for key sources that
    need one: ``kdf(None, None)`` is the one configured in ``[kdf]``; a name and stored
    params rebuild the one a keyring was made with (validated before any derivation).
    ``audit_key()`` returns the key of the audit log's HMAC chain, or None while the store has
    no keyring yet (audit sinks that chain or hash names use it). ``audit_anchor(None)``
    returns where the keyring anchors the audit chain, ``(seq, mac)`` of its first line, or
    None; ``audit_anchor((seq, mac))`` records that anchor unless one exists, and returns the
    one in force. ``advance_audit_anchor((seq, mac))`` moves the anchor forward to a later
    line, for a sink whose retention deletes the oldest files (it must first check that the
    line chains on from the current anchor), and returns the one in force. ``record_key()``
    returns the :class:`RecordKey` that authenticates a storage plugin's records, or None
    while the store has no keyring yet; call it when a record is first read or written (it
    unlocks the keyring), not in the factory.
    """

    data_dir: Path
    log_dir: Path
    config_file: Path | None = None
    kdf: Callable[[str | None, Mapping[str, int] | None], Kdf] | None = None
    audit_key: Callable[[], bytes | None] | None = None
    audit_anchor: Callable[[tuple[int, str] | None], tuple[int, str] | None] | None = None
    advance_audit_anchor: Callable[[tuple[int, str]], tuple[int, str] | None] | None = None
    record_key: Callable[[], RecordKey | None] | None = None


# --- interfaces the factories return ---------------------------------------------------------


@runtime_checkable
class StorageBackend(Protocol):
    """Stores opaque values by validated name. Values are ``bytes`` or ``str`` and come back
    as the type that was written.

    Backends without :attr:`Capability.ENCRYPTS_AT_REST` only ever receive ciphertext from
    the manager. Errors must be :mod:`secrets_core.errors` types: a missing name raises
    :class:`~secrets_core.errors.SecretNotFoundError`, corrupt data raises
    :class:`~secrets_core.errors.IntegrityError`.

    A backend instance may have a ``capabilities`` attribute (a frozenset of
    :class:`Capability`): the manager then uses only those capabilities that are both in it
    and in the descriptor. A backend whose abilities depend on its configuration or server
    (a Vault KV v1 mount has no versions) declares the most it can do in the descriptor and
    narrows it per instance. Without ``ENCRYPTS_AT_REST`` on the instance the manager seals
    values client-side.
    """

    def read(self, name: str) -> bytes | str: ...

    def write(self, name: str, value: bytes | str) -> int | None: ...

    def delete(self, name: str) -> None: ...

    def list_names(self, prefix: str = "") -> list[str]: ...

    def close(self) -> None: ...


class VersionInfo(Record):
    """One stored version of a secret (never its value)."""

    version: int
    created: str  # ISO 8601, UTC


class SecretMetadata(Record):
    """What a backend with :attr:`Capability.METADATA` knows about a secret besides its value."""

    name: str
    created: str  # ISO 8601, UTC
    updated: str
    current_version: int
    versions: tuple[VersionInfo, ...] = ()
    custom: Mapping[str, str] = MappingProxyType({})
    deleted: bool = False  # soft-deleted, restorable


# Optional methods, required by the capability named in each docstring. The manager calls
# them only on backends that declare the capability; the conformance kit checks them.


@runtime_checkable
class VersionedBackend(Protocol):
    """:attr:`Capability.VERSIONS`: ``write`` keeps older versions (the backend decides how
    many) and returns the new version number."""

    def read_version(self, name: str, version: int) -> bytes | str: ...

    def rewrite_versions(self, name: str, transform: Callable[[bytes | str], bytes | str]) -> int:
        """Replace every retained version's value (soft-deleted ones too) with
        ``transform(value)``, atomically per secret; used by key rotation. Versions whose
        value ``transform`` returns unchanged are not rewritten. Returns how many were."""
        ...


@runtime_checkable
class MetadataBackend(Protocol):
    """:attr:`Capability.METADATA`."""

    def metadata(self, name: str) -> SecretMetadata: ...

    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None: ...


@runtime_checkable
class SoftDeleteBackend(Protocol):
    """:attr:`Capability.SOFT_DELETE`: ``delete`` hides a secret (read raises not-found, it is
    not listed) until ``restore``; ``purge`` destroys it and every version for good."""

    def restore(self, name: str) -> None: ...

    def purge(self, name: str) -> None: ...

    def list_deleted(self, prefix: str = "") -> list[str]:
        """Names that are soft-deleted (and so not in ``list_names``)."""
        ...


@runtime_checkable
class CasBackend(Protocol):
    """:attr:`Capability.CAS`: ``write`` accepts ``cas``, the version the caller expects to
    be current (0: the secret must not exist yet); any other current version raises
    :class:`~secrets_core.errors.ConflictError` and writes nothing."""

    def write(self, name: str, value: bytes | str, *, cas: int | None = None) -> int | None: ...


@runtime_checkable
class Cipher(Protocol):
    """Authenticated encryption under one key. ``associated_data`` is authenticated but not
    encrypted; a cipher that cannot take it must reject tokens whose AD differs some other way
    (the manager additionally binds the name inside the plaintext). Any failure to decrypt
    raises :class:`~secrets_core.errors.IntegrityError` (or another ``EncryptionError``)."""

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes: ...


@runtime_checkable
class RewrappingCipher(Protocol):
    """Optional: a cipher whose keys live on a server that can re-encrypt a token under its
    newest key version without returning the plaintext (Vault/OpenBao Transit ``rewrap``).

    When the primary data key's cipher has these methods, :meth:`rotate_encryption_key`
    rotates the server key (``rotate_server_key``) and rewraps every token instead of making
    a new data key (each rewrapped token is decrypted once, to verify it, before it replaces
    the old one)."""

    def rotate_server_key(self) -> None: ...

    def rewrap(self, token: bytes, associated_data: bytes) -> bytes | None:
        """``token`` re-encrypted under the newest server key, or None if it already is."""
        ...


@runtime_checkable
class Kdf(Protocol):
    """Derives a key from a passphrase. ``params`` are stored beside the salt and handed back
    on the next unlock; the factory must check them against floors and ceilings before any
    derivation (they are read from disk, so attacker-controlled). An optional ``name``
    attribute says which algorithm actually runs, when a factory falls back to another."""

    params: Mapping[str, int]

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes: ...


@runtime_checkable
class KeySource(Protocol):
    """Supplies the key-encryption key (KEK) that wraps the data keys.

    ``create_kek`` runs once, when a keyring is first made, and returns the KEK plus any
    public parameters to store with the keyring (a salt, KDF parameters, a key id).
    ``load_kek`` gets those parameters back on every later unlock.
    """

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]: ...

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes: ...


@runtime_checkable
class AuditSink(Protocol):
    """Receives audit events. Events never hold values or key material."""

    def emit(self, event: AuditEvent) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class DynamicCredentials(Protocol):
    """Optional, from a backend descriptor's ``dynamic`` factory: credentials the backend's
    server issues on demand under a lease (Vault/OpenBao database, RabbitMQ, PKI engines).
    ``run --dynamic VAR=PATH`` uses it; the CLI knows nothing else about the server.

    ``leased(path, params)`` reads one credential (params: request parameters, None for a
    plain read) and is a context manager: the lease is kept renewed while the block runs and
    revoked when it ends. The credential it yields gives its field names by iteration and
    each field's value by ``credential[field]``; its ``repr`` must not show the values.
    """

    def leased(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AbstractContextManager[Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class DotenvBackend(Protocol):
    """Optional: a backend that keeps its secrets as dotenv variables (the env backend).
    ``.env`` migration (``import_dotenv``, ``import-env``) into it skips keys it already
    owns, refuses to import its own file, and a rewrite puts its line where the plaintext
    was. The core knows nothing else of the backend's format."""

    def owns_variable(self, variable: str) -> bool:
        """Whether ``variable`` is one of this backend's (its prefix)."""
        ...

    def dotenv_line(self, name: str) -> str:
        """The line ``VARIABLE=stored form`` that holds the stored secret ``name``."""
        ...

    def dotenv_file(self) -> Path | None:
        """The dotenv file the backend also writes, if any."""
        ...


#: The methods of :class:`DotenvBackend` (checked by attribute on a guarded instance).
DOTENV_BACKEND_METHODS = ("owns_variable", "dotenv_line", "dotenv_file")


# --- descriptors -----------------------------------------------------------------------------


def _build(spec: Any, *args: Any) -> Any:
    """``spec.make(*args)`` through :class:`secrets_core.plugin._factory.Factory`: a string
    factory is imported, and a result that is not the family's interface raises
    :class:`~secrets_core.errors.PluginContractError` naming the plugin."""
    return bind(spec).factory(*args)


class BackendSpec(Record):
    """A storage backend. ``factory(options, context)`` gets the validated option table.

    ``dynamic(options, context)``, if given, gets the same table and returns the
    :class:`DynamicCredentials` of the backend's server (``run --dynamic``).

    ``paths(options, context)``, if given, gets the same table and returns the local files
    and directories the backend keeps secrets in, by label (``{"file store": Path}``), without
    creating anything; ``secure-secrets doctor`` checks that each is private (not a symlink,
    owned by the user, 0700 directories, 0600 files)."""

    name: str
    factory: Callable[[Mapping[str, Any], PluginContext], StorageBackend] | str
    capabilities: frozenset[Capability] = frozenset()
    options: Mapping[str, ConfigOption] = NO_OPTIONS
    description: str = ""
    dynamic: Callable[[Mapping[str, Any], PluginContext], DynamicCredentials] | str | None = None
    paths: Callable[[Mapping[str, Any], PluginContext], Mapping[str, Path]] | str | None = None
    validate: Callable[[Mapping[str, Any]], None] | str | None = None
    """Optional offline check of the resolved options (no connection, no file written):
    raise :class:`~secrets_core.errors.ConfigError` naming the option. Runs before every
    ``factory`` call and in ``secure-secrets config validate``."""
    describe: Callable[[Mapping[str, Any]], str] | str | None = None
    """Optional: what a slow call waits for, from the resolved options, offline and never
    with a credential (``"vault at https://vault.example:8200 (budget 15 s)"``). On a
    terminal the CLI prints ``waiting for <it>...`` when an operation takes over a second;
    without it, ``the NAME backend``."""

    def make(self, options: Mapping[str, Any], context: PluginContext) -> StorageBackend:
        """Call the factory (importing a ``"module:attr"`` one) and check its result."""
        made: StorageBackend = _build(self, options, context)
        return made


class CipherSpec(Record):
    """A cipher. ``factory(key)`` gets ``key_size`` random bytes."""

    name: str
    factory: Callable[[bytes], Cipher] | str
    key_size: int = 32
    description: str = ""

    def make(self, key: bytes) -> Cipher:
        """Call the factory (importing a ``"module:attr"`` one) and check its result."""
        made: Cipher = _build(self, key)
        return made


class KdfSpec(Record):
    """A key-derivation function. ``factory(params)`` validates ``params`` (floors and
    ceilings) and raises :class:`~secrets_core.errors.ConfigError` before deriving anything.
    An empty mapping asks for the defaults."""

    name: str
    factory: Callable[[Mapping[str, int]], Kdf] | str
    description: str = ""

    def make(self, params: Mapping[str, int]) -> Kdf:
        """Call the factory (importing a ``"module:attr"`` one) and check its result."""
        made: Kdf = _build(self, params)
        return made


class KeySourceSpec(Record):
    """A source of the key-encryption key."""

    name: str
    factory: Callable[[Mapping[str, Any], PluginContext], KeySource] | str
    options: Mapping[str, ConfigOption] = NO_OPTIONS
    description: str = ""
    validate: Callable[[Mapping[str, Any]], None] | str | None = None
    """Optional offline check of the resolved options (no connection, no file written):
    raise :class:`~secrets_core.errors.ConfigError` naming the option. Runs before every
    ``factory`` call and in ``secure-secrets config validate``."""

    def make(self, options: Mapping[str, Any], context: PluginContext) -> KeySource:
        """Call the factory (importing a ``"module:attr"`` one) and check its result."""
        made: KeySource = _build(self, options, context)
        return made


class AuditSinkSpec(Record):
    """An audit sink. The core handles the ``required`` option itself."""

    name: str
    factory: Callable[[Mapping[str, Any], PluginContext], AuditSink] | str
    options: Mapping[str, ConfigOption] = NO_OPTIONS
    description: str = ""
    validate: Callable[[Mapping[str, Any]], None] | str | None = None
    """Optional offline check of the resolved options (no connection, no file written):
    raise :class:`~secrets_core.errors.ConfigError` naming the option. Runs before every
    ``factory`` call and in ``secure-secrets config validate``."""

    def make(self, options: Mapping[str, Any], context: PluginContext) -> AuditSink:
        """Call the factory (importing a ``"module:attr"`` one) and check its result."""
        made: AuditSink = _build(self, options, context)
        return made


class CommandSpec(Record):
    """A verb a plugin adds to the ``secure-secrets`` command line.

    ``command`` is a ``"module:attr"`` path to a :class:`click.Command` (or group); the core
    imports it only when the verb runs, never at registration, and lists the verb in
    ``secure-secrets --help`` with ``help`` (one line) without importing it. A verb with the
    name of a core verb is reported and never runs (the core verb wins). ``distribution`` is
    the distribution that ships the verb, for messages; when empty, the registry's record of
    the plugin's distribution is used.
    """

    name: str
    command: str
    help: str = ""
    distribution: str = ""
