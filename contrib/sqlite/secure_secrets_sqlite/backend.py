"""The SQLite backend: every secret, its versions and its metadata in one database file.

Safety across processes comes from SQLite itself: WAL mode (readers never block the writer),
``BEGIN IMMEDIATE`` for every change (one writer at a time, waiting up to ``timeout`` seconds
for the lock) and one statement or one read transaction per read, so a reader always sees a
committed state. ``PRAGMA secure_delete`` overwrites the pages of deleted values.

Errors are :mod:`secrets_core.errors` types, converted ``from None``: a locked database
raises :class:`~secrets_core.errors.LockTimeoutError` (a ``BackendUnavailableError``), a
corrupt one :class:`~secrets_core.errors.IntegrityError`. Messages name the secret and the
database file, never a value.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    IntegrityError,
    InvalidSecretValueError,
    LockTimeoutError,
    SecretNotFoundError,
)
from secrets_core.plugin import PluginContext, SecretMetadata, VersionInfo

SCHEMA_VERSION = 1
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

_SCHEMA = """
CREATE TABLE secrets (
    name TEXT PRIMARY KEY NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    custom TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
"""

_LOCKED = ("SQLITE_BUSY", "SQLITE_LOCKED")
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _encode(value: bytes | str) -> tuple[str, bytes]:
    if isinstance(value, str):
        return "str", value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return "bytes", value
    raise InvalidSecretValueError(
        f"the sqlite backend stores str or bytes values, not {type(value).__name__}"
    )


def validate_options(options: Mapping[str, Any]) -> None:
    """Offline checks of ``[backends.sqlite]`` (``config validate`` runs them too)."""
    if options["max_versions"] < 1:
        raise BackendConfigurationError(
            "option 'max_versions' in [backends.sqlite] must be at least 1"
        )
    if not 0 < float(options["timeout"]) <= 3600:
        raise BackendConfigurationError(
            "option 'timeout' in [backends.sqlite] must be between 0 and 3600 seconds"
        )


class SqliteBackend:
    """Secrets in one SQLite file (0600, in a 0700 directory when it creates one)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: PluginContext) -> SqliteBackend:
        """The ``sqlite`` factory (the core has run :func:`validate_options`)."""
        path = Path(options["path"] or context.data_dir / "secrets.sqlite3").expanduser()
        return cls(path, max_versions=options["max_versions"], timeout=float(options["timeout"]))

    def __init__(self, path: Path, *, max_versions: int = 10, timeout: float = 10.0) -> None:
        self.path = path
        self.max_versions = max_versions
        self.timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        with self._lock:
            self._connection()  # fail now, at construction, on a bad path or a corrupt file

    def __repr__(self) -> str:
        return f"SqliteBackend(path={str(self.path)!r}, max_versions={self.max_versions})"

    # --- connection and error handling --------------------------------------------------------

    def _prepare_files(self) -> None:
        missing = []
        parent = self.path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            os.chmod(directory, PRIVATE_DIR)  # whatever the umask
        for candidate in (self.path, *(Path(f"{self.path}{s}") for s in ("-wal", "-shm"))):
            if candidate.is_symlink():
                raise BackendConfigurationError(
                    f"sqlite database path {candidate} is a symlink; refusing to follow it"
                )
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, PRIVATE_FILE)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BackendConfigurationError(
                    f"sqlite database path {self.path} is not a regular file"
                )
            os.fchmod(fd, PRIVATE_FILE)
        finally:
            os.close(fd)
        for side in ("-wal", "-shm"):  # SQLite gives new ones the database file's mode
            side_path = Path(f"{self.path}{side}")
            if side_path.exists():
                os.chmod(side_path, PRIVATE_FILE)

    def _open(self) -> sqlite3.Connection:
        try:
            self._prepare_files()
        except OSError as exc:
            raise BackendUnavailableError(
                f"sqlite database {self.path} cannot be created or opened: {exc.strerror}"
            ) from None
        conn = sqlite3.connect(
            str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise BackendConfigurationError(
                    f"sqlite database {self.path} cannot use WAL mode (journal mode {mode}); "
                    "put it on a local file system"
                )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            self._ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise IntegrityError(
                            f"sqlite database {self.path} holds tables that are not a "
                            "secure-secrets store; point [backends.sqlite] path elsewhere"
                        )
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        elif version > SCHEMA_VERSION:
            raise BackendConfigurationError(
                f"sqlite database {self.path} has schema {version}, newer than this plugin "
                f"understands ({SCHEMA_VERSION}); upgrade secure-secrets-sqlite"
            )
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not {"secrets", "versions"} <= tables:
            raise IntegrityError(f"sqlite database {self.path} is missing its tables")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            # After a fork the parent's connection is abandoned, never used or closed here.
            self._conn = None
            with self._errors():
                self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Convert sqlite3 exceptions to secrets_core errors (``from None``: the originals
        may quote SQL). Other exceptions, e.g. from a rotation transform, pass through."""
        try:
            yield
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorname", "") or ""
            text = str(exc).lower()
            if code.startswith(_LOCKED) or "locked" in text or "busy" in text:
                raise LockTimeoutError(
                    f"sqlite database {self.path} stayed locked by another writer for more "
                    f"than {self.timeout:g}s; try again, or raise [backends.sqlite] timeout"
                ) from None
            if (
                code.startswith(_CORRUPT)
                or isinstance(exc, sqlite3.IntegrityError)
                or "malformed" in text
                or "not a database" in text
            ):
                raise IntegrityError(
                    f"sqlite database {self.path} is corrupt ({code or type(exc).__name__}); "
                    "restore it from a backup"
                ) from None
            raise BackendUnavailableError(
                f"sqlite database {self.path} cannot be used ({code or type(exc).__name__})"
            ) from None

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            conn = self._connection()
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One writer at a time across processes: the lock is taken up front."""
        return self._transaction("BEGIN IMMEDIATE")

    def _snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: several SELECTs see one committed state."""
        return self._transaction("BEGIN")

    def _not_found(self, name: str, what: str = "secret") -> SecretNotFoundError:
        return SecretNotFoundError(f"{what} '{name}' not found in sqlite database {self.path}")

    def _decode(self, name: str, kind: object, value: object) -> bytes | str:
        if not isinstance(value, bytes):
            raise IntegrityError(f"secret '{name}' in {self.path} has a corrupt value")
        if kind == "bytes":
            return value
        if kind == "str":
            try:
                return value.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise IntegrityError(
                    f"secret '{name}' in {self.path} has a corrupt text value"
                ) from None
        raise IntegrityError(f"secret '{name}' in {self.path} has a corrupt value type")

    # --- StorageBackend -----------------------------------------------------------------------

    def read(self, name: str) -> bytes | str:
        with self._snapshot() as conn:
            row = conn.execute(
                "SELECT v.kind, v.value FROM secrets s JOIN versions v "
                "ON v.name = s.name AND v.version = s.current_version "
                "WHERE s.name = ? AND s.deleted = 0",
                (name,),
            ).fetchone()
        if row is None:
            raise self._not_found(name)
        return self._decode(name, *row)

    def write(self, name: str, value: bytes | str) -> int:
        """Store a new version and prune those beyond ``max_versions``; return its number.
        Writing a soft-deleted name brings it back with the new value as its newest version."""
        kind, blob = _encode(value)
        with self._write() as conn:
            now = _now()
            row = conn.execute(
                "SELECT current_version FROM secrets WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                version = 1
                conn.execute(
                    "INSERT INTO secrets (name, created, updated, current_version) "
                    "VALUES (?, ?, ?, ?)",
                    (name, now, now, version),
                )
            else:
                version = int(row[0]) + 1
                conn.execute(
                    "UPDATE secrets SET updated = ?, current_version = ?, deleted = 0 "
                    "WHERE name = ?",
                    (now, version, name),
                )
            conn.execute(
                "INSERT INTO versions (name, version, created, kind, value) VALUES (?, ?, ?, ?, ?)",
                (name, version, now, kind, blob),
            )
            conn.execute(
                "DELETE FROM versions WHERE name = ? AND version <= ?",
                (name, version - self.max_versions),
            )
        return version

    def delete(self, name: str) -> None:
        """Soft delete: hidden from read and list until :meth:`restore` or :meth:`purge`."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE secrets SET deleted = 1 WHERE name = ? AND deleted = 0", (name,)
            )
            if cursor.rowcount == 0:
                raise self._not_found(name)

    def list_names(self, prefix: str = "") -> list[str]:
        return self._names(prefix, deleted=False)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _names(self, prefix: str, *, deleted: bool) -> list[str]:
        # substr, not LIKE: LIKE treats % and _ as wildcards and ignores ASCII case.
        with self._lock, self._errors():
            rows = (
                self._connection()
                .execute(
                    "SELECT name FROM secrets WHERE deleted = ? AND substr(name, 1, ?) = ? "
                    "ORDER BY name",
                    (int(deleted), len(prefix), prefix),
                )
                .fetchall()
            )
        return [row[0] for row in rows]

    # --- Capability.VERSIONS ------------------------------------------------------------------

    def read_version(self, name: str, version: int) -> bytes | str:
        with self._snapshot() as conn:
            row = conn.execute(
                "SELECT v.kind, v.value FROM secrets s JOIN versions v ON v.name = s.name "
                "WHERE s.name = ? AND s.deleted = 0 AND v.version = ?",
                (name, int(version)),
            ).fetchone()
        if row is None:
            raise self._not_found(
                name,
                f"version {int(version)} (the last {self.max_versions} are kept) of secret",
            )
        return self._decode(name, *row)

    def rewrite_versions(self, name: str, transform: Callable[[bytes | str], bytes | str]) -> int:
        """Replace each retained version's value (soft-deleted secrets too) with
        ``transform(value)`` in one transaction: if ``transform`` raises, nothing changes.
        Version numbers and times are kept. Returns how many values changed."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone() is None:
                raise self._not_found(name)
            rows = conn.execute(
                "SELECT version, kind, value FROM versions WHERE name = ? ORDER BY version",
                (name,),
            ).fetchall()
            changed = 0
            for version, kind, blob in rows:
                old = self._decode(name, kind, blob)
                new = transform(old)
                if type(new) is type(old) and new == old:
                    continue
                new_kind, new_blob = _encode(new)
                conn.execute(
                    "UPDATE versions SET kind = ?, value = ? WHERE name = ? AND version = ?",
                    (new_kind, new_blob, name, version),
                )
                changed += 1
        return changed

    # --- Capability.METADATA ------------------------------------------------------------------

    def metadata(self, name: str) -> SecretMetadata:
        """Times, retained versions and custom metadata; soft-deleted secrets too, with
        ``deleted=True``."""
        with self._snapshot() as conn:
            row = conn.execute(
                "SELECT created, updated, current_version, deleted, custom FROM secrets "
                "WHERE name = ?",
                (name,),
            ).fetchone()
            versions = conn.execute(
                "SELECT version, created FROM versions WHERE name = ? ORDER BY version", (name,)
            ).fetchall()
        if row is None:
            raise self._not_found(name)
        created, updated, current, deleted, custom_text = row
        try:
            custom = json.loads(custom_text)
        except (TypeError, ValueError):
            custom = None
        if not isinstance(custom, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in custom.items()
        ):
            raise IntegrityError(f"secret '{name}' in {self.path} has corrupt custom metadata")
        return SecretMetadata(
            name=name,
            created=created,
            updated=updated,
            current_version=int(current),
            versions=tuple(VersionInfo(int(v), c) for v, c in versions),
            custom=custom,
            deleted=bool(deleted),
        )

    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None:
        """Replace the secret's custom metadata (string keys and values)."""
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in custom.items()):
            raise InvalidSecretValueError("custom metadata must map str keys to str values")
        text = json.dumps(dict(custom), sort_keys=True)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE secrets SET custom = ? WHERE name = ? AND deleted = 0", (text, name)
            )
            if cursor.rowcount == 0:
                raise self._not_found(name)

    # --- Capability.SOFT_DELETE ---------------------------------------------------------------

    def restore(self, name: str) -> None:
        """Undo a soft delete (a secret that is not deleted is left as it is)."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone() is None:
                raise self._not_found(name, "deleted secret")
            conn.execute("UPDATE secrets SET deleted = 0 WHERE name = ?", (name,))

    def purge(self, name: str) -> None:
        """Destroy a secret and every version, deleted or not."""
        with self._write() as conn:
            conn.execute("DELETE FROM versions WHERE name = ?", (name,))
            if conn.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount == 0:
                raise self._not_found(name)

    def list_deleted(self, prefix: str = "") -> list[str]:
        return self._names(prefix, deleted=True)
