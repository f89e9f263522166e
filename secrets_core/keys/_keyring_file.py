"""The keyring file: its JSON format, unlocking it, and durable changes under its lock.

The keyring is a small JSON file (0600) beside the store: for each data key its id, its
cipher and its bytes wrapped under the key-encryption key (KEK); which key is primary; and
the key source's public parameters (a salt, KDF settings). The KEK comes from a key source
and is fetched once per unlock, so a KDF runs once per process, never per operation. Every
change is a durable atomic replace under a cross-process lock, so a crash leaves the old or
the new keyring, both of which decrypt every stored secret. What the keyring's other parts
mean lives in the modules that use them: ``_ledger`` (stores, generation, record key),
``_anchor`` (the audit chain), ``_datakeys`` (rotation, sealing: :class:`KeyManager`).
"""

from __future__ import annotations

import _thread
import base64
import binascii
import contextlib
import datetime as dt
import errno
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from secrets_core.defaults import ENV_KEYRING
from secrets_core.errors import (
    BackendUnavailableError,
    ConfigError,
    EncryptionError,
    IntegrityError,
    KeyNotAvailableError,
    LockTimeoutError,
)
from secrets_core.fsutil import TEMP_SUFFIX, atomic_write, ensure_private_dir, read_private_file
from secrets_core.plugin._api import Cipher, CipherSpec, KeySource

KEYRING_FORMAT = 2  # 2: with the integrity key, the generation and the ledger of stores
_FORMATS = (1, KEYRING_FORMAT)
LOCK_TIMEOUT_SECONDS = 30.0
_AUDIT_AD = b"secure-secrets keyring v1\0audit-chain"
#: Set (and MACed with the ledger) once every store holds authenticated records only: in a
#: new keyring, and by a completed rotation, which rewrote every record of every store.
RECORDS_FLAG = "records_authenticated"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _wrap_ad(key_id: str) -> bytes:
    return b"secure-secrets keyring v1\0" + key_id.encode()


class _DataKey:
    __slots__ = ("key_id", "cipher_name", "wrapped", "created", "cipher")

    def __init__(self, key_id: str, cipher_name: str, wrapped: str, created: str) -> None:
        self.key_id = key_id
        self.cipher_name = cipher_name
        self.wrapped = wrapped
        self.created = created
        self.cipher: Cipher | None = None  # unwrapped lazily


class KeyringFile:
    """The loaded keyring document and its data keys; the base of :class:`KeyManager`.

    ``cipher_for_name`` resolves a cipher name to its spec (through the plugin registry);
    ``source`` supplies the KEK; ``new_key_cipher`` is the cipher new data keys use.
    ``may_create`` is asked before a first keyring is made; it returns False when
    ciphertext already exists, so a lost keyring is reported instead of silently replaced.
    """

    def __init__(
        self,
        path: Path,
        source: KeySource,
        source_name: str,
        new_key_cipher: str,
        cipher_for_name: Callable[[str], CipherSpec],
        may_create: Callable[[], bool],
    ) -> None:
        self.path = path
        self._source = source
        self._source_name = source_name
        self._new_key_cipher = new_key_cipher
        self._cipher_for_name = cipher_for_name
        self._may_create = may_create
        self._lock = _thread.RLock()
        self._file_lock: Any = None  # a filelock.FileLock, made on first change (reads need none)
        self._kek: bytes | None = None
        self._keys: dict[str, _DataKey] = {}
        self._primary: str | None = None
        self._doc: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._audit_key: bytes | None = None
        self._integrity_key: bytes | None = None
        self._ledger_checked: tuple[int, int, int] | None = None  # the stamp last verified
        # A container can get the keyring (public: it holds only wrapped keys) as a variable.
        inline = os.environ.get(ENV_KEYRING)
        self._inline = inline.encode() if inline else None

    def exists(self) -> bool:
        return self._inline is not None or self.path.exists()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import filelock  # imported here: reading secrets never takes this lock (cold start)

        ensure_private_dir(self.path.parent)
        if self._file_lock is None:
            self._file_lock = filelock.FileLock(
                str(self.path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS, mode=0o600
            )
        try:
            self._file_lock.acquire()
        except filelock.Timeout:
            raise LockTimeoutError(
                f"timed out after {LOCK_TIMEOUT_SECONDS:.0f}s waiting for the keyring lock "
                f"{self._file_lock.lock_file}; another process holds it"
            ) from None
        except OSError as exc:  # a planted symlink or an unwritable directory
            raise self._lock_error(exc) from None
        try:
            self._sweep_temp_files()
            yield
        finally:
            self._file_lock.release()

    def _lock_error(self, exc: OSError) -> KeyNotAvailableError:
        reason = "it is a symlink, which is refused" if exc.errno == errno.ELOOP else exc.strerror
        return KeyNotAvailableError(
            f"the keyring lock {self.path}.lock cannot be opened: {reason}; remove it (it is "
            "re-created) and check who else can write that directory"
        )

    def _sweep_temp_files(self) -> None:
        """Remove the temp files of keyring writes killed before their rename. Every writer
        holds the keyring lock, so while we hold it no temp file belongs to a live one; each
        holds wrapped data keys (retired ones too), so none should linger."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def _loaded(self, create: bool = False) -> None:
        """Unlock on first use; afterwards re-read the keyring if another process changed it."""
        if self._primary is None:
            self._unlock(create)
        elif self._changed_on_disk():
            self._reload()

    def _unlock(self, create: bool) -> None:
        if self._primary is not None:
            return
        if not self.exists():
            if not create:
                raise KeyNotAvailableError(
                    f"no keyring at {self.path}; restore it from your backup (it is needed "
                    "to decrypt stored secrets)"
                )
            with self._locked():
                if not self.path.exists():
                    self._create()
        self._reload()

    def _create(self) -> None:
        if not self._may_create():
            raise KeyNotAvailableError(
                f"no keyring at {self.path}, but encrypted secrets exist; restore the keyring "
                "from your backup (creating a new key would not decrypt them)"
            )
        spec = self._cipher_for_name(self._new_key_cipher)
        kek, params = self._source.create_kek(spec.key_size)
        self._kek = kek
        self._doc = {
            "format": KEYRING_FORMAT,
            "key_source": {"name": self._source_name, "params": params},
            "primary": None,
            "keys": [],
        }
        self._doc["primary"] = self._add_key(spec)
        self._doc["audit_key"] = self._new_audit_key(spec)
        self._doc[RECORDS_FLAG] = True  # no store holds a record of this keyring yet
        self._save()

    def _new_audit_key(self, spec: CipherSpec, ad: bytes = _AUDIT_AD) -> dict[str, str]:
        """A random key for the audit log's HMAC chain (or, with ``ad``, the integrity key),
        wrapped like a data key, so it survives data-key rotation and is re-wrapped with the
        KEK."""
        assert self._kek is not None
        wrapped = spec.make(self._kek).encrypt(os.urandom(32), ad)
        return {"cipher": spec.name, "wrapped": base64.b64encode(wrapped).decode()}

    def _unwrap_extra(self, field: str, ad: bytes) -> bytes:
        assert self._kek is not None
        try:
            entry = self._doc[field]
            spec = self._cipher_for_name(entry["cipher"])
            raw = base64.b64decode(entry["wrapped"], validate=True)
            return spec.make(self._kek).decrypt(raw, ad)
        except (binascii.Error, ValueError, TypeError, KeyError, EncryptionError):
            raise KeyNotAvailableError(
                f"the {field.replace('_', ' ')} in {self.path} cannot be unwrapped (tampered "
                "keyring?)"
            ) from None

    def _add_key(self, spec: CipherSpec) -> str:
        assert self._kek is not None
        key_id = os.urandom(8).hex()
        data_key = os.urandom(spec.key_size)
        wrapped = spec.make(self._kek).encrypt(data_key, _wrap_ad(key_id))
        self._doc["keys"].append(
            {
                "id": key_id,
                "cipher": spec.name,
                "wrapped": base64.b64encode(wrapped).decode(),
                "created": _now(),
            }
        )
        return key_id

    def _authenticate(self) -> None:
        """Called by :meth:`_save` before every write: the ledger (``_ledger``) bumps the
        generation and re-authenticates itself here."""

    def _save(self) -> None:
        """Write the keyring durably (after :meth:`_authenticate`)."""
        if self._inline is not None:
            raise ConfigError(
                f"the keyring comes from {ENV_KEYRING} and is read-only here; rotate or "
                "re-wrap where the keyring file lives, then export it again"
            )
        self._doc["format"] = KEYRING_FORMAT
        self._authenticate()
        try:
            atomic_write(self.path, json.dumps(self._doc, indent=1).encode())
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
        else:
            return
        raise BackendUnavailableError(  # outside the except block: nothing chained
            f"the keyring {self.path} could not be written ({reason}); it is unchanged, so "
            "nothing is lost: free space or fix the disk, then retry"
        )

    def _stat(self) -> tuple[int, int, int]:
        if self._inline is not None:
            return (0, 0, len(self._inline))
        st = os.stat(self.path)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _changed_on_disk(self) -> bool:
        if self._inline is not None:
            return False
        try:
            return self._stat() != self._stamp
        except FileNotFoundError:
            return True

    def _reload(self) -> None:
        try:
            raw = self._inline if self._inline is not None else read_private_file(self.path)
            stamp = self._stat()
        except FileNotFoundError:
            raise KeyNotAvailableError(
                f"keyring {self.path} disappeared; restore it from backup"
            ) from None
        except OSError as exc:
            raise KeyNotAvailableError(
                f"keyring {self.path} cannot be read: {exc.strerror}"
            ) from None
        try:
            doc = json.loads(raw)
            keys = {
                k["id"]: _DataKey(k["id"], k["cipher"], k["wrapped"], k["created"])
                for k in doc["keys"]
            }
            primary = doc["primary"]
            source = doc["key_source"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise IntegrityError(
                f"keyring {self.path} is corrupt; restore it from backup"
            ) from None
        if doc.get("format") not in _FORMATS or primary not in keys:
            raise IntegrityError(f"keyring {self.path} is corrupt or of an unknown format")
        if source.get("name") != self._source_name:
            raise KeyNotAvailableError(
                f"keyring {self.path} is protected by key source '{source.get('name')}', but "
                f"'{self._source_name}' is configured; configure key_source.name = "
                f'"{source.get("name")}"'
            )
        if self._kek is None:
            spec = self._cipher_for_name(keys[primary].cipher_name)
            self._kek = self._source.load_kek(source.get("params", {}), spec.key_size)
        # Keep unwrapped keys we already have; unwrap the rest lazily.
        for key_id, key in keys.items():
            if key_id in self._keys and self._keys[key_id].cipher is not None:
                key.cipher = self._keys[key_id].cipher
        self._doc, self._keys, self._primary, self._stamp = doc, keys, primary, stamp
        self._cipher(primary)  # fail now, at unlock, if the KEK is wrong

    def _cipher(self, key_id: str) -> Cipher:
        key = self._keys[key_id]
        if key.cipher is None:
            assert self._kek is not None
            spec = self._cipher_for_name(key.cipher_name)
            try:
                wrapped = base64.b64decode(key.wrapped, validate=True)
                data_key = spec.make(self._kek).decrypt(wrapped, _wrap_ad(key_id))
            except (binascii.Error, ValueError, EncryptionError):
                raise KeyNotAvailableError(
                    f"data key {key_id} in {self.path} cannot be unwrapped: wrong key "
                    "(passphrase/KEK) or a tampered keyring"
                ) from None
            key.cipher = spec.make(data_key)
        return key.cipher
