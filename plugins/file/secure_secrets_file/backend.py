"""One record file per secret, durable atomic writes, a cross-process lock per secret.

Store layout (``path``, default ``<data_dir>/store``, 0700)::

    <b32>.secret          a live secret: every retained version + metadata (see record.py)
    <b32>.deleted         a soft-deleted secret, renamed aside until restore or purge
    .<b32>.lock           the secret's lock file (empty, never deleted)
    .<b32>.<...>.tmp      a write in progress (swept on open when left by a crash)

``<b32>`` is the lowercase, unpadded base32 of the (validated) name, so a name is never used as
a path and names differing only in case stay distinct on case-insensitive filesystems. Every
operation touches one secret's files only: its cost does not grow with the number of secrets
(listing is the exception, a directory scan).

Reads take no lock: writers replace whole files atomically, so a reader sees the old or the
new record, never a mix. Writes run under the secret's lock: read the record, add the version,
replace the file (temp file, fsync, rename, directory fsync).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from secrets_core.clock import utc_timestamp
from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    InvalidSecretValueError,
    SecretNotFoundError,
)
from secrets_core.fsutil import (
    PRIVATE_FILE_MODE,
    TEMP_SUFFIX,
    atomic_write,
    ensure_private_dir,
    fsync_dir,
    refuse_symlink,
)
from secrets_core.lazylog import get_logger
from secrets_core.names import validate_name
from secrets_core.plugin import PluginContext, RecordKey, SecretMetadata, VersionInfo
from secure_secrets_file import record as rec
from secure_secrets_file.locking import LockDirectory

log = get_logger("secure_secrets_file")

SUFFIX = ".secret"
DELETED_SUFFIX = ".deleted"
STAMP_FILE = ".keyring-stamp"
STAMP_LOCK = "keyring-stamp"  # not a base32 stem: cannot be a secret's lock
DEFAULT_MAX_VERSIONS = 10
MAX_MAX_VERSIONS = 1000
LOOSE_PERMISSION_POLICIES = ("error", "warn")
MAX_CUSTOM_KEYS, MAX_CUSTOM_KEY_LENGTH, MAX_CUSTOM_VALUE_LENGTH = 64, 128, 512

_STEM = re.compile(r"[a-z2-7]+")
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted in the store must not hang a reader
)
_DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
_PRIVATE_REGULAR = stat.S_IFREG | PRIVATE_FILE_MODE  # st_mode of a record as written
_RECORD_SUFFIXES = (SUFFIX, DELETED_SUFFIX)
_SCAN_BATCH = 256  # records a bulk scan reads before checking them


def store_path(options: Mapping[str, Any], context: PluginContext) -> Path:
    """The store directory: the ``path`` option, else ``<data_dir>/store``."""
    return Path(options.get("path") or context.data_dir / "store").expanduser()


class LoosePermissionsWarning(UserWarning):
    """A store file or directory is readable by others (``on_loose_permissions = "warn"``)."""


@functools.lru_cache(maxsize=4096)
def _stem(name: str) -> str:
    return base64.b32encode(name.encode()).decode().rstrip("=").lower()


def file_name(name: str) -> str:
    """The file of a live secret: lowercase unpadded base32 of the name, plus ``.secret``."""
    return _stem(name) + SUFFIX


_ALPHABET = b"abcdefghijklmnopqrstuvwxyz234567"
# bytes.translate table: the lowercase base32 alphabet to the digits int(x, 32) reads, every
# other byte to "!", which it refuses (so no sign, space or "_" slips through either).
_BASE32_DIGITS = bytes(
    b"0123456789abcdefghijklmnopqrstuv"[_ALPHABET.index(byte)] if byte in _ALPHABET else 33
    for byte in range(256)
)


# By stem length mod 8: the padding bits of its last digit (-1: no byte count has that length).
_SPARE_BITS = (0, -1, 2, -1, 4, 1, -1, 3)


def _stem_bytes(stem: str) -> bytes | None:
    """The bytes that ``stem`` is the canonical unpadded lowercase base32 of, or None.
    (base64.b32decode is pure Python; bytes.translate and int(..., 32) do the same in C.)"""
    spare = _SPARE_BITS[len(stem) & 7]
    digits = stem.encode("ascii", "replace").translate(_BASE32_DIGITS)
    if spare < 0 or not digits.isalnum():  # empty, or a byte outside the alphabet
        return None
    value = int(digits, 32)
    if value & ((1 << spare) - 1):
        return None  # non-zero padding bits: not what file_name() writes
    return (value >> spare).to_bytes(len(stem) * 5 // 8, "big")


def secret_name(file: str) -> str | None:
    """The secret name of a ``.secret`` or ``.deleted`` file, or None if it is not one (not
    canonical unpadded lowercase base32 of a valid name)."""
    stored = _stem_bytes(file.rsplit(".", 1)[0])
    if stored is None:
        return None
    try:
        return validate_name(stored.decode())
    except ValueError:  # UnicodeDecodeError, InvalidSecretNameError
        return None


_now = utc_timestamp  # ISO 8601 UTC with microseconds, formatted once a second


class FileBackend:
    """The ``file`` backend. See the module docstring and docs/file-backend.md."""

    lock_directory_class = LockDirectory

    def __init__(
        self,
        root: Path,
        lock_timeout: float = 10.0,
        *,
        max_versions: int = DEFAULT_MAX_VERSIONS,
        on_loose_permissions: str = "error",
        record_key: Callable[[], RecordKey | None] | None = None,
    ) -> None:
        if isinstance(lock_timeout, bool) or not (
            isinstance(lock_timeout, (int, float)) and lock_timeout >= 0
        ):
            raise BackendConfigurationError(
                "option 'lock_timeout' of the file backend must be a number of seconds >= 0"
            )
        if isinstance(max_versions, bool) or not (
            isinstance(max_versions, int) and 1 <= max_versions <= MAX_MAX_VERSIONS
        ):
            raise BackendConfigurationError(
                "option 'max_versions' of the file backend must be an integer from 1 to "
                f"{MAX_MAX_VERSIONS}"
            )
        if on_loose_permissions not in LOOSE_PERMISSION_POLICIES:
            raise BackendConfigurationError(
                "option 'on_loose_permissions' of the file backend must be one of "
                f"{', '.join(repr(p) for p in LOOSE_PERMISSION_POLICIES)}"
            )
        self.max_versions = max_versions
        self.auth = rec.Authenticator(record_key)
        self._euid = None if _geteuid is None else _geteuid()
        self.on_loose_permissions = on_loose_permissions
        self._warned: set[str] = set()
        self.root = self._private_dir(Path(root))
        self._prefix = str(self.root) + os.sep
        self.locks = self.lock_directory_class(self.root, float(lock_timeout))
        self._sweep_temp_files()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: PluginContext) -> FileBackend:
        root = store_path(options, context)
        timeout = options.get("lock_timeout")
        max_versions = options.get("max_versions")
        return cls(
            root,
            10.0 if timeout is None else timeout,
            max_versions=DEFAULT_MAX_VERSIONS if max_versions is None else max_versions,
            on_loose_permissions=options.get("on_loose_permissions") or "error",
            record_key=context.record_key,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"

    @property
    def store_identity(self) -> dict[str, str]:
        """The options that reopen this store, as the keyring's ledger of stores records it:
        its directory (how long locks wait or how many versions are kept does not change
        which store it is)."""
        return {"path": str(self.root)}

    # --- StorageBackend ---------------------------------------------------------------------

    def read(self, name: str) -> bytes | str:
        name = validate_name(name)
        stem = _stem(name)
        raw = self._read_file(stem + SUFFIX, name, missing_ok=False)
        assert raw is not None
        return rec.current_value(raw, name, stem + SUFFIX, self.auth)[1]

    def write(self, name: str, value: bytes | str) -> int:
        """Store ``value`` as the new current version; return its number. The oldest versions
        beyond ``max_versions`` are dropped. Writing a soft-deleted name revives it, history
        included."""
        name = validate_name(name)
        value = _checked_value(value)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            raw = self._read_file(stem + SUFFIX, name, missing_ok=True)
            spliced = None
            if raw is not None:  # the common case: a new version of a live SSF4 record
                spliced = rec.appended(
                    raw, name, stem + SUFFIX, self.auth, value, _now(), self.max_versions
                )
            if spliced is not None:
                self._store_bytes(stem + SUFFIX, spliced[0], name, spliced[1])
                return spliced[1]
            found = self._load(stem, name, deleted_too=True)
            now = _now()
            if found is None:
                record = rec.Record(name, now, now)
                number = 1
            else:
                record = found[0]
                number = record.current.version + 1
            record.versions.append(rec.StoredVersion(number, now, value))
            del record.versions[: -self.max_versions]
            record.updated = now
            if found is not None and found[1]:  # revive: write aside, then rename into place
                self._store(stem + DELETED_SUFFIX, record, name)
                self._rename(stem + DELETED_SUFFIX, stem + SUFFIX, name)
            else:
                self._store(stem + SUFFIX, record, name)
        return number

    def delete(self, name: str) -> None:
        """Soft delete: the secret is renamed aside, hidden from read and list, until
        :meth:`restore` or :meth:`purge`."""
        name = validate_name(name)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            self._rename(stem + SUFFIX, stem + DELETED_SUFFIX, name)

    def list_names(self, prefix: str = "") -> list[str]:
        return self._scan(SUFFIX, prefix)

    def close(self) -> None:
        """Nothing to release: no descriptor or lock outlives an operation."""

    # --- the keyring stamp (see docs/security.md, "Rollback of the keyring") ---------------

    def read_keyring_stamp(self) -> bytes | None:
        """The stamp of the newest keyring that wrote here (opaque to this backend)."""
        return self._read_file(STAMP_FILE, "(keyring stamp)", missing_ok=True)

    def write_keyring_stamp(self, stamp: bytes) -> None:
        try:
            with self.locks.hold(STAMP_LOCK, "the keyring stamp"):
                atomic_write(Path(self._prefix + STAMP_FILE), stamp, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise BackendUnavailableError(
                f"the keyring stamp of the store could not be written ({_describe(exc)})"
            ) from None

    # --- Capability.VERSIONS ----------------------------------------------------------------

    def read_version(self, name: str, version: int) -> bytes | str:
        name = validate_name(name)
        stem = _stem(name)
        raw = self._read_file(stem + SUFFIX, name, missing_ok=False)
        assert raw is not None
        current, value = rec.current_value(raw, name, stem + SUFFIX, self.auth)
        if version == current and type(version) is int:
            return value
        for stored in rec.decode(raw, name, stem + SUFFIX, self.auth).versions:
            if stored.version == version and type(version) is int:
                return stored.value
        shown = version if type(version) is int else f"of type {type(version).__name__}"
        raise SecretNotFoundError(
            f"secret '{name}' has no version {shown} in the file backend (it keeps the "
            f"last {self.max_versions}; the current one is {current})"
        )

    def rewrite_versions(self, name: str, transform: Callable[[bytes | str], bytes | str]) -> int:
        """Replace every retained version's value (soft-deleted secrets too) with
        ``transform(value)`` in one atomic file replacement; return how many changed. Times and
        version numbers are kept: the values are the same secrets, re-encrypted. A record in
        an earlier format (unkeyed SSF2, or SSF3) is rewritten as SSF4 even if no value
        changed, so a completed rotation leaves none."""
        name = validate_name(name)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            found = self._load(stem, name, deleted_too=True)
            if found is None:
                raise self._not_found(name, stem)
            record, deleted = found
            changed = 0
            for stored in record.versions:
                new = _checked_value(transform(stored.value))
                if type(new) is not type(stored.value) or new != stored.value:
                    stored.value = new
                    changed += 1
            if changed or (record.legacy and self.auth.has_key()):
                self._store(stem + (DELETED_SUFFIX if deleted else SUFFIX), record, name)
        return changed

    def iter_stored_values(self) -> Iterator[tuple[str, list[bytes | str]]]:
        """Every secret, live or soft-deleted, with every retained version's stored value,
        oldest first: one directory scan and one lock-free read per record (for
        ``secure-secrets verify-keys``). The records are opened relative to one descriptor
        of the store directory (no path walk per file, and a store directory swapped
        mid-scan is not followed), with the same no-follow, type, mode, owner and MAC checks
        as a get, and each record held to its file (the SSF4 MAC binds the file's stem). The
        common record (SSF4, one version, 0600, ours, MAC verified) is taken in one pass
        (:func:`record.bulk_values`); anything else is read again through the checked path,
        which raises what a get would."""
        try:
            dir_fd = os.open(self.root, _DIR_FLAGS)
            try:
                entries = os.listdir(dir_fd)
            except BaseException:
                os.close(dir_fd)
                raise
        except OSError as exc:
            raise BackendUnavailableError(
                f"the file backend's store cannot be listed ({exc.strerror})"
            ) from None
        mac = self.auth.keyed()
        try:
            files = [f for f in entries if f[0] != "." and f.endswith(_RECORD_SUFFIXES)]
            for at in range(0, len(files), _SCAN_BATCH):
                # Passes over a batch (reads, then checks) rather than one per record: Python
                # code run between syscalls runs markedly slower (cold caches).
                chunk = files[at : at + _SCAN_BATCH]
                if mac is None:  # no record key: only the checked path can say what they are
                    raws: list[bytes | None] = [None] * len(chunk)
                    found: list[tuple[bytes, bytes] | None] = [None] * len(chunk)
                else:
                    stems = "/".join([f[: f.rindex(".")] for f in chunk])
                    raws = self._read_private(chunk, dir_fd)
                    found = rec.bulk_values(raws, stems.encode("ascii", "replace").split(b"/"), mac)
                for file, raw, common in zip(chunk, raws, found, strict=True):
                    if common is not None:  # its MAC binds this file's stem: its record
                        try:
                            yield common[0].decode(), [common[1]]
                            continue
                        except UnicodeDecodeError:
                            pass  # no writer validated such a name: the checked path skips it
                    checked = self._checked_values(file, raw, dir_fd)
                    if checked is not None:  # None: not a record, or purged/renamed meanwhile
                        yield checked
        finally:
            os.close(dir_fd)

    def _read_private(self, files: list[str], dir_fd: int) -> list[bytes | None]:
        """For :meth:`iter_stored_values`: each file opened at the directory descriptor
        (no-follow, non-blocking), one fstat, read whole if it is a regular file, 0600, ours;
        else, or on any error, None (the checked path then reads it again and says what
        is wrong)."""
        raws: list[bytes | None] = []
        open_at, fstat, read, close, euid = os.open, os.fstat, os.read, os.close, self._euid
        for file in files:
            try:
                fd = open_at(file, _READ_FLAGS, dir_fd=dir_fd)
            except OSError:
                raws.append(None)
                continue
            try:
                info = fstat(fd)
                if info.st_mode == _PRIVATE_REGULAR and info.st_uid == euid:
                    raws.append(read(fd, info.st_size))  # short (changed meanwhile): bad MAC
                else:
                    raws.append(None)
            except OSError:
                raws.append(None)
            finally:
                close(fd)
        return raws

    def _checked_values(
        self, file: str, raw: bytes | None, dir_fd: int
    ) -> tuple[str, list[bytes | str]] | None:
        """One record of :meth:`iter_stored_values` that :func:`record.bulk_values` did not
        take, through the checks a get makes (and its errors): ``raw`` as read if it was read
        (a private regular file: a record with several versions, say), else read again. None
        if ``file`` is not a record name or is gone."""
        name = secret_name(file)
        if name is not None and raw is None:
            raw = self._read_file(file, name, True, dir_fd)
        if name is None or raw is None:
            return None
        return name, rec.every_value(raw, name, file, self.auth)

    # --- Capability.METADATA ----------------------------------------------------------------

    def metadata(self, name: str) -> SecretMetadata:
        """Times, versions and custom metadata; a soft-deleted secret is reported with
        ``deleted=True``."""
        name = validate_name(name)
        stem = _stem(name)
        found = self._load(stem, name, deleted_too=True)
        if found is None:
            raise self._not_found(name, stem)
        record, deleted = found
        return SecretMetadata(
            name=name,
            created=record.created,
            updated=record.updated,
            current_version=record.current.version,
            versions=tuple(VersionInfo(v.version, v.created) for v in record.versions),
            custom=dict(record.custom),
            deleted=deleted,
        )

    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None:
        """Replace the secret's custom metadata (stored in clear: it is not for secrets). At
        most 64 keys of up to 128 characters, values up to 512 characters."""
        name = validate_name(name)
        checked = _checked_custom(custom)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            found = self._load(stem, name, deleted_too=False)
            if found is None:
                raise self._not_found(name, stem)
            record = found[0]
            record.custom = checked
            record.updated = _now()
            self._store(stem + SUFFIX, record, name)

    # --- Capability.SOFT_DELETE -------------------------------------------------------------

    def restore(self, name: str) -> None:
        name = validate_name(name)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            if not self._exists(stem + DELETED_SUFFIX, name):
                state = "is not deleted" if self._exists(stem + SUFFIX, name) else "not found"
                raise SecretNotFoundError(
                    f"secret '{name}' {state}: there is no soft-deleted secret to restore"
                )
            self._rename(stem + DELETED_SUFFIX, stem + SUFFIX, name)

    def purge(self, name: str) -> None:
        """Destroy the secret and every version, live or soft-deleted."""
        name = validate_name(name)
        stem = _stem(name)
        with self.locks.hold(stem, f"secret '{name}'"):
            removed = False
            for file in (stem + SUFFIX, stem + DELETED_SUFFIX):
                try:
                    os.unlink(self._prefix + file)
                    removed = True
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise BackendUnavailableError(
                        f"secret '{name}' could not be purged ({exc.strerror})"
                    ) from None
            if not removed:
                raise SecretNotFoundError(f"secret '{name}' not found in the file backend")
            self._fsync_root(name)

    def list_deleted(self, prefix: str = "") -> list[str]:
        return self._scan(DELETED_SUFFIX, prefix)

    # --- files ------------------------------------------------------------------------------

    def _private_dir(self, path: Path) -> Path:
        try:
            return self._make_private_dir(path)
        except OSError as exc:
            raise BackendConfigurationError(
                f"the file backend's store directory {path} cannot be created or made private "
                f"({_describe(exc)}); check the path and its parent's permissions"
            ) from None

    def _make_private_dir(self, path: Path) -> Path:
        refuse_symlink(path)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return ensure_private_dir(path)
        if not stat.S_ISDIR(info.st_mode):
            raise BackendConfigurationError(f"the file backend's store path {path} is not a dir")
        if _geteuid is not None and info.st_uid != _geteuid():
            self._check_private(info, f"store directory {path}", 0o700)
        elif stat.S_IMODE(info.st_mode) != 0o700:
            # The directory holds no secret itself: tighten it (files get the policy).
            log.warning(
                "store directory %s had mode %04o; tightened to 0700",
                path,
                stat.S_IMODE(info.st_mode),
            )
        return ensure_private_dir(path)

    def _check_private(self, info: os.stat_result, what: str, expected: int) -> None:
        mode = stat.S_IMODE(info.st_mode)
        foreign = _geteuid is not None and info.st_uid != _geteuid()
        if not (mode & 0o077 or foreign):
            return
        problem = (
            f"is owned by uid {info.st_uid}, not by this user"
            if foreign
            else f"has mode {mode:04o}, readable or writable by others"
        )
        message = f"{what} {problem}; expected {expected:04o} owned by this user"
        if self.on_loose_permissions == "error":
            raise BackendConfigurationError(
                f"{message}. Fix it (chmod {expected:o}), or set backends.file."
                'on_loose_permissions = "warn" to carry on with a warning'
            )
        if what not in self._warned:
            self._warned.add(what)
            log.warning("%s", message)
            warnings.warn(message, LoosePermissionsWarning, stacklevel=4)

    def _read_file(
        self, file: str, name: str, missing_ok: bool, dir_fd: int | None = None
    ) -> bytes | None:
        """The whole file, or None (``missing_ok``) / SecretNotFoundError if there is none.
        Refuses a symlink; checks type, mode and owner on the opened descriptor. ``dir_fd``:
        open ``file`` relative to that descriptor of the store directory."""
        try:
            if dir_fd is None:
                fd = os.open(self._prefix + file, _READ_FLAGS)
            else:
                fd = os.open(file, _READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise self._not_found(name, file.rsplit(".", 1)[0]) from None
        except OSError as exc:
            raise self._os_error(exc, name, file, "read") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BackendConfigurationError(
                    f"the file of secret '{name}' ({file}) is not a regular file; refused"
                )
            if info.st_mode & 0o077 or (self._euid is not None and info.st_uid != self._euid):
                self._check_private(info, f"the file of secret '{name}' ({file})", 0o600)
            size = info.st_size
            raw = os.read(fd, size)
            while len(raw) < size:  # a short read: keep going to the end
                more = os.read(fd, size - len(raw))
                if not more:
                    break
                raw += more
            return raw
        except OSError as exc:
            raise self._os_error(exc, name, file, "read") from None
        finally:
            os.close(fd)

    def _load(self, stem: str, name: str, *, deleted_too: bool) -> tuple[rec.Record, bool] | None:
        """The full record and whether it is soft-deleted, or None if there is none."""
        for _attempt in range(2):
            raw = self._read_file(stem + SUFFIX, name, missing_ok=True)
            if raw is not None:
                return rec.decode(raw, name, stem + SUFFIX, self.auth), False
            if not deleted_too:
                return None
            raw = self._read_file(stem + DELETED_SUFFIX, name, missing_ok=True)
            if raw is not None:
                return rec.decode(raw, name, stem + DELETED_SUFFIX, self.auth), True
            # Neither: absent, or a lock-free reader raced a restore's rename; look once more.
        return None

    def _store(self, file: str, record: rec.Record, name: str) -> None:
        self._store_bytes(file, rec.encode(record, file, self.auth), name, record.current.version)

    def _store_bytes(self, file: str, data: bytes, name: str, version: int) -> None:
        """Durably replace ``file`` with ``data``. Every caller has just read ``file`` under
        the secret's lock (no-follow: a symlink there was refused), so it is not checked
        again."""
        try:
            atomic_write(self._prefix + file, data, PRIVATE_FILE_MODE, symlink_checked=True)
        except OSError as exc:
            state = self._state_after_failure(file, version)
            raise BackendUnavailableError(
                f"secret '{name}' could not be written ({_describe(exc)}); {state}"
            ) from None

    def _state_after_failure(self, file: str, new_version: int) -> str:
        try:
            fd = os.open(self._prefix + file, _READ_FLAGS)
            with os.fdopen(fd, "rb") as handle:
                on_disk = rec.current_version(handle.read())
        except OSError:
            on_disk = None
        if on_disk == new_version:
            return (
                "the new version is in place, but the directory fsync failed, so it may not "
                "survive a power cut"
            )
        return "the previous version is intact"

    def _rename(self, source: str, target: str, name: str) -> None:
        try:
            if stat.S_ISLNK(os.lstat(self._prefix + source).st_mode):
                raise BackendConfigurationError(
                    f"the file of secret '{name}' ({source}) is a symlink; refused"
                )
            os.replace(self._prefix + source, self._prefix + target)
        except FileNotFoundError:
            raise self._not_found(name, source.rsplit(".", 1)[0]) from None
        except OSError as exc:
            raise BackendUnavailableError(
                f"secret '{name}' could not be renamed ({_describe(exc)}); it is unchanged"
            ) from None
        self._fsync_root(name)

    def _fsync_root(self, name: str) -> None:
        try:
            fsync_dir(self.root)
        except OSError as exc:
            raise BackendUnavailableError(
                f"the change to secret '{name}' is done but the directory fsync failed "
                f"({_describe(exc)}); it may not survive a power cut"
            ) from None

    def _exists(self, file: str, name: str) -> bool:
        try:
            info = os.lstat(self._prefix + file)
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(info.st_mode):
            raise BackendConfigurationError(
                f"the file of secret '{name}' ({file}) is a symlink; refused"
            )
        return True

    def _not_found(self, name: str, stem: str) -> SecretNotFoundError:
        hint = ""
        if os.path.lexists(self._prefix + stem + DELETED_SUFFIX):
            hint = " (it is soft-deleted: restore or purge it)"
        return SecretNotFoundError(f"secret '{name}' not found in the file backend{hint}")

    @staticmethod
    def _os_error(exc: OSError, name: str, file: str, action: str) -> Exception:
        if exc.errno == errno.ELOOP:
            return BackendConfigurationError(
                f"the file of secret '{name}' ({file}) is a symlink; refused"
            )
        return BackendUnavailableError(f"secret '{name}' could not be {action} ({_describe(exc)})")

    def _scan(self, suffix: str, prefix: str) -> list[str]:
        names = []
        try:
            entries = list(os.scandir(self.root))
        except OSError as exc:
            raise BackendUnavailableError(
                f"the file backend's store cannot be listed ({exc.strerror})"
            ) from None
        for entry in entries:
            if entry.name.endswith(suffix) and not entry.name.startswith("."):
                name = secret_name(entry.name)
                if name is not None and name.startswith(prefix):
                    names.append(name)
        return sorted(names)

    def _sweep_temp_files(self) -> None:
        """Remove temp files left by crashed writers. A temp file is only ever created under its
        secret's lock and renamed or removed before the lock is released, so one found while
        holding that lock is stale; one whose lock is busy belongs to a live writer."""
        for entry in os.scandir(self.root):
            if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
                continue
            if entry.name.startswith(f".{STAMP_FILE}."):  # the stamp's, written under its lock
                with self.locks.try_hold(STAMP_LOCK) as free:
                    if free:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                continue
            stem = entry.name[1:].split(".", 1)[0]
            if not _STEM.fullmatch(stem):
                continue
            with self.locks.try_hold(stem) as free:
                if free:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)


def _checked_value(value: object) -> bytes | str:
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if not isinstance(value, (bytes, str)):
        raise InvalidSecretValueError(
            f"secret value must be str or bytes, not {type(value).__name__}"
        )
    return value


def _checked_custom(custom: object) -> dict[str, str]:
    if not isinstance(custom, Mapping):
        raise InvalidSecretValueError(
            f"custom metadata must be a mapping of str to str, not {type(custom).__name__}"
        )
    if len(custom) > MAX_CUSTOM_KEYS:
        raise InvalidSecretValueError(
            f"custom metadata has {len(custom)} keys; the file backend keeps at most "
            f"{MAX_CUSTOM_KEYS}"
        )
    checked: dict[str, str] = {}
    for key, value in custom.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidSecretValueError("custom metadata keys and values must be str")
        if not 0 < len(key) <= MAX_CUSTOM_KEY_LENGTH or len(value) > MAX_CUSTOM_VALUE_LENGTH:
            raise InvalidSecretValueError(
                f"custom metadata keys must have 1 to {MAX_CUSTOM_KEY_LENGTH} characters and "
                f"values at most {MAX_CUSTOM_VALUE_LENGTH}"
            )
        checked[key] = value
    return checked


def _describe(exc: OSError) -> str:
    code = errno.errorcode.get(exc.errno or 0, "")
    return f"{code}: {exc.strerror}" if code else str(exc.strerror or type(exc).__name__)
