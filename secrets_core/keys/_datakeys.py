"""Envelope key management: random data keys, wrapped by a key-encryption key (KEK).

The keyring is a small JSON file (0600) beside the store: for each data key its id, its
cipher and its bytes wrapped under the KEK; which key is primary; and the key source's public
parameters (a salt, KDF settings). The KEK comes from a key source and is fetched once per
unlock, so a KDF runs once per process, never per operation. Every change to the keyring is
a durable atomic replace under a cross-process lock, so a crash leaves the old or the new
keyring, both of which decrypt every stored secret.
"""

from __future__ import annotations

import _thread
import base64
import binascii
import contextlib
import datetime as dt
import errno
import hashlib
import hmac
import json
import os
import time
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
    KeyringRollbackError,
    LockTimeoutError,
    RotationIncompleteError,
)
from secrets_core.fsutil import TEMP_SUFFIX, atomic_write, ensure_private_dir, read_private_file
from secrets_core.plugin._api import Cipher, CipherSpec, KeySource, RecordKey

KEYRING_FORMAT = 2  # 2: with the integrity key, the generation and the ledger of stores
_FORMATS = (1, KEYRING_FORMAT)
LOCK_TIMEOUT_SECONDS = 30.0


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


_AUDIT_AD = b"secure-secrets keyring v1\0audit-chain"
_INTEGRITY_AD = b"secure-secrets keyring v1\0integrity"
_RECORDS_LABEL = "store records"  # the label of the record-MAC key, apart from "ledger"
#: Set (and MACed with the ledger) once every store holds authenticated records only: in a
#: new keyring, and by a completed rotation, which rewrote every record of every store.
_RECORDS_FLAG = "records_authenticated"


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


class KeyManager:
    """Loads, creates and rotates the keyring at ``path``.

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

    # --- public -----------------------------------------------------------------------------

    def primary(self) -> tuple[str, Cipher]:
        """The current primary key id and cipher, creating the keyring on first use."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=True)
            elif self._changed_on_disk():
                self._reload()
            assert self._primary is not None
            return self._primary, self._cipher(self._primary)

    @contextlib.contextmanager
    def sealing(self) -> Iterator[tuple[str, Cipher]]:
        """The primary key for new ciphertext, with the keyring's lock held *shared* until
        the caller has written it. A rotation takes the lock exclusively to start and to
        retire keys, so it waits for writes in flight, and a write that starts after it
        seals under the new key: no token can appear under a key the rotation retires
        without having re-encrypted it."""
        self.primary()  # creating the keyring takes the lock exclusively: do it first
        if self._inline is not None:  # read-only: nothing here rotates it
            yield self.primary()
            return
        fd = self._shared_lock()
        try:
            yield self.primary()  # re-read under the lock: a rotation may just have ended
        finally:
            os.close(fd)  # releases the lock

    def _shared_lock(self) -> int:
        import fcntl

        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(str(self.path) + ".lock", flags, 0o600)
        except OSError as exc:
            raise self._lock_error(exc) from None
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        raise LockTimeoutError(
            f"timed out after {LOCK_TIMEOUT_SECONDS:.0f}s waiting for the keyring lock "
            f"{self.path}.lock; a key rotation in another process holds it"
        )

    def _lock_error(self, exc: OSError) -> KeyNotAvailableError:
        reason = "it is a symlink, which is refused" if exc.errno == errno.ELOOP else exc.strerror
        return KeyNotAvailableError(
            f"the keyring lock {self.path}.lock cannot be opened: {reason}; remove it (it is "
            "re-created) and check who else can write that directory"
        )

    def cipher_for(self, key_id: str, secret_name: str) -> Cipher:
        """The cipher of data key ``key_id``; re-reads the keyring once if the id is unknown
        (another process may have rotated)."""
        known = self._keys.get(key_id)  # lock-free hit: reads reuse an unwrapped key
        if known is not None and known.cipher is not None:
            return known.cipher
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            if key_id not in self._keys and self._changed_on_disk():
                self._reload()
            if key_id not in self._keys:
                raise KeyNotAvailableError(
                    f"secret '{secret_name}' is encrypted under data key {key_id}, which is "
                    f"not in the keyring {self.path} (retired, or a token from another store)"
                )
            return self._cipher(key_id)

    def begin_rotation(self) -> tuple[str, bool]:
        """Start a rotation, or resume an unfinished one.

        The journal is the keyring's ``rotation`` entry: the target key id, written (with
        the new key made primary) in one atomic replace before any secret is re-encrypted,
        and removed by :meth:`finish_rotation`. After a crash the next call resumes with the
        same target. Returns ``(key id, resumed)``.
        """
        with self._locked(), self._lock:  # the file lock first: see sealing()
            self._unlock(create=True)
            self._reload()
            pending = self._doc.get("rotation")
            if isinstance(pending, dict) and pending.get("target") in self._keys:
                return str(pending["target"]), True
            key_id = self._add_key(self._cipher_for_name(self._new_key_cipher))
            self._doc["primary"] = key_id
            self._doc["rotation"] = {"target": key_id, "started": _now()}
            self._save()
            self._reload()
            return key_id, False

    def finish_rotation(self, keep: int, covered: set[str]) -> list[str]:
        """Close the journal and drop all but the primary and the ``keep`` newest older
        keys. ``covered`` holds the ids of the stores whose every ciphertext was verified
        under the primary; if the ledger names a store not in it, nothing is retired and
        :class:`RotationIncompleteError` names it."""
        with self._locked(), self._lock:  # the file lock first: see sealing()
            self._reload()
            self._verify_ledger()
            missed = [e for e in self._doc.get("stores", []) if e["id"] not in covered]
            if missed:
                names = ", ".join(f"{e['backend']} {e['options']}" for e in missed)
                raise RotationIncompleteError(
                    f"the rotation did not cover store(s) {names}, recorded in the keyring; "
                    "no key was retired; run rotate-key again to resume"
                )
            older = [k for k in self._doc["keys"] if k["id"] != self._doc["primary"]]
            older.sort(key=lambda k: k["created"], reverse=True)
            drop = {k["id"] for k in older[max(keep, 0) :]}
            self._doc["keys"] = [k for k in self._doc["keys"] if k["id"] not in drop]
            self._doc.pop("rotation", None)
            self._doc[_RECORDS_FLAG] = True  # every store's records were rewritten, with MACs
            self._save()
            self._reload()
            return sorted(drop)

    def rotation_pending(self) -> str | None:
        """The target key id of an unfinished rotation, if any."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            elif self._changed_on_disk():
                self._reload()
            pending = self._doc.get("rotation")
            return str(pending["target"]) if isinstance(pending, dict) else None

    # --- the ledger of stores -----------------------------------------------------------------

    def stores(self) -> list[dict[str, Any]]:
        """The authenticated ledger: every store that has sealed a value with this keyring
        (``{"id", "backend", "options", "recorded"}``), oldest first. Raises
        :class:`IntegrityError` if the ledger was edited."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            elif self._changed_on_disk():
                self._reload()
            self._verify_ledger()
            return [dict(entry) for entry in self._doc.get("stores", [])]

    def has_ledger(self) -> bool:
        """False for a keyring made before stores were recorded (until its first change)."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            return "stores" in self._doc

    def record_store(self, entry: dict[str, Any]) -> None:
        """Add ``entry`` (a store about to seal its first value in this process) to the
        ledger, unless it is there already: one look at the loaded keyring, and a locked
        replace only the first time a store is ever written."""
        self.primary()  # creates the keyring on first use
        with self._lock:
            self._verify_ledger()
            if any(known["id"] == entry["id"] for known in self._doc.get("stores", [])):
                return
        with self._locked(), self._lock:
            self._reload()
            self._verify_ledger()
            if any(known["id"] == entry["id"] for known in self._doc.get("stores", [])):
                return
            stores = self._doc.setdefault("stores", [])
            stores.append({**entry, "recorded": _now()})
            self._save()
            self._reload()

    def generation(self) -> int:
        """How many times this keyring was changed (authenticated with the ledger)."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            self._verify_ledger()
            return int(self._doc.get("generation", 0))

    def stamp(self, store_id: str) -> bytes:
        """What a store keeps to remember the newest keyring that wrote to it: this keyring's
        id and generation, authenticated (see :meth:`check_stamp`)."""
        with self._lock:
            generation = self.generation()
            body = f"{self._doc.get('keyring_id', '')}:{generation}:{store_id}"
            mac = hmac.new(self.integrity_key("stamp"), body.encode(), hashlib.sha256).hexdigest()
            return f"{body}:{mac}".encode()

    def check_stamp(self, store_id: str, stamp: bytes | None) -> bool:
        """Compare a store's stamp with this keyring; True if the store should be given a new
        one. Raises :class:`KeyringRollbackError` if the store has seen a newer generation of
        this keyring (re-read from disk first, in case another process changed it)."""
        try:
            keyring_id, generation, stamped_for, mac = (stamp or b"").decode().split(":")
            seen = int(generation)
        except ValueError:
            return True  # none yet (or not ours): write one
        with self._lock:
            if self._changed_on_disk():
                self._reload()
            if keyring_id != self._doc.get("keyring_id") or stamped_for != store_id:
                return True  # another keyring's, or another store's file copied here
            body = f"{keyring_id}:{seen}:{store_id}".encode()
            expected = hmac.new(self.integrity_key("stamp"), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, mac):
                raise IntegrityError(
                    "the keyring stamp of a store fails authentication (edited); restore the "
                    "store's stamp file from backup, or delete it to accept this keyring"
                )
            mine = self.generation()
            if seen > mine:
                raise KeyringRollbackError(
                    f"the keyring {self.path} is older (generation {mine}) than one this store "
                    f"was written with (generation {seen}): an older keyring.json was put back. "
                    "Nothing was written; put the newest keyring back (values written with "
                    "this one could be sealed under keys it has retired)"
                )
            return seen < mine

    def integrity_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (the ledger, a store's record MACs), derived from the
        keyring's integrity key, which is wrapped by the KEK like a data key."""
        with self._lock:
            if self._integrity_key is None:
                if self._primary is None:
                    self._unlock(create=False)
                if "integrity_key" not in self._doc:  # a keyring from before the ledger
                    with self._locked():
                        self._reload()
                        if "integrity_key" not in self._doc:
                            self._save()  # _save adds it
                            self._reload()
            return self._derived(purpose)

    def record_key(self) -> RecordKey:
        """The key that authenticates storage plugins' records, and whether records from
        before record MACs may still be read (see :class:`~secrets_core.plugin.RecordKey`).
        The flag is MACed with the ledger: its absence is trusted only once the ledger
        verifies (a keyring that has it needs no ledger work here)."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            elif self._changed_on_disk():
                self._reload()
            key = self.integrity_key(_RECORDS_LABEL)
            legacy_readable = self._doc.get(_RECORDS_FLAG) is not True
            if legacy_readable:
                self._verify_ledger()
            return RecordKey(key, legacy_readable)

    def _derived(self, purpose: str) -> bytes:
        if self._integrity_key is None:
            self._integrity_key = self._unwrap_extra("integrity_key", _INTEGRITY_AD)
        return hmac.new(self._integrity_key, purpose.encode(), hashlib.sha256).digest()

    def _ledger_mac(self, doc: dict[str, Any]) -> str:
        body = json.dumps(
            {
                "stores": doc.get("stores", []),
                "generation": doc.get("generation", 0),
                "keyring_id": doc.get("keyring_id", ""),
                # Only when set, so keyrings MACed before the flag existed still verify.
                **({_RECORDS_FLAG: doc[_RECORDS_FLAG]} if _RECORDS_FLAG in doc else {}),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return hmac.new(self._derived("ledger"), body, hashlib.sha256).hexdigest()

    def _verify_ledger(self) -> None:
        if self._ledger_checked is not None and self._ledger_checked == self._stamp:
            return
        if "ledger_mac" not in self._doc:
            if "stores" in self._doc or "generation" in self._doc:
                raise IntegrityError(
                    f"keyring {self.path} has a ledger of stores but no MAC (edited); restore "
                    "the keyring from backup"
                )
            return  # a keyring from before the ledger: nothing recorded yet
        if not hmac.compare_digest(str(self._doc["ledger_mac"]), self._ledger_mac(self._doc)):
            raise IntegrityError(
                f"the ledger of stores in keyring {self.path} fails authentication (edited, or "
                "spliced from another keyring); restore the keyring from backup"
            )
        self._ledger_checked = self._stamp

    def rewrap(self, source: KeySource, source_name: str, fresh_key: bool = True) -> str | None:
        """Re-wrap every data key under a KEK from ``source`` (a new passphrase, key file or
        source type) and, with ``fresh_key``, add a new primary data key for new writes, so
        an old copy of the keyring with the old KEK opens nothing stored after the change.
        Only the keyring changes, in one atomic replace; no secret is re-encrypted. Returns
        the new primary key id (None without ``fresh_key``)."""
        with self._locked(), self._lock:  # the file lock first: see sealing()
            self._unlock(create=False)
            self._reload()
            assert self._kek is not None
            old_kek = self._kek
            size = self._cipher_for_name(self._keys[self._primary or ""].cipher_name).key_size
            new_kek, params = source.create_kek(size)
            for entry in self._doc["keys"]:
                spec = self._cipher_for_name(entry["cipher"])
                ad = _wrap_ad(entry["id"])
                try:
                    data_key = spec.make(old_kek).decrypt(base64.b64decode(entry["wrapped"]), ad)
                except (binascii.Error, ValueError, EncryptionError):
                    raise KeyNotAvailableError(
                        f"data key {entry['id']} cannot be unwrapped; nothing was changed"
                    ) from None
                entry["wrapped"] = base64.b64encode(
                    spec.make(new_kek).encrypt(data_key, ad)
                ).decode()
            for field, ad in (("audit_key", _AUDIT_AD), ("integrity_key", _INTEGRITY_AD)):
                if field in self._doc:
                    entry = self._doc[field]
                    spec = self._cipher_for_name(entry["cipher"])
                    raw = spec.make(old_kek).decrypt(base64.b64decode(entry["wrapped"]), ad)
                    wrapped = spec.make(new_kek).encrypt(raw, ad)
                    entry["wrapped"] = base64.b64encode(wrapped).decode()
            self._doc["key_source"] = {"name": source_name, "params": params}
            self._source, self._source_name, self._kek = source, source_name, new_kek
            new_id = None
            if fresh_key:
                new_id = self._add_key(self._cipher_for_name(self._new_key_cipher))
                self._doc["primary"] = new_id
                if isinstance(self._doc.get("rotation"), dict):  # a pending rotation: to it
                    self._doc["rotation"]["target"] = new_id
            self._save()
            self._reload()
            return new_id

    def primary_id(self) -> str | None:
        """The primary key id as last loaded (no disk access: for cheap comparisons)."""
        return self._primary

    def key_ids(self) -> list[str]:
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            return list(self._keys)

    def exists(self) -> bool:
        return self._inline is not None or self.path.exists()

    # --- the audit chain's anchor (opaque here: secrets_core.audit makes and checks it) ------

    def audit_anchor(self) -> dict[str, Any] | None:
        """The record anchoring the audit chain's start, as stored, or None."""
        with self._lock:
            if self._primary is None:
                self._unlock(create=False)
            elif self._changed_on_disk():
                self._reload()
            found = self._doc.get("audit_anchor")
            return dict(found) if isinstance(found, dict) else None

    def set_audit_anchor(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store ``record`` as the audit chain's anchor unless one exists; return the one in
        force. An anchor is never replaced: a log-only attacker must not move the start."""
        with self._locked(), self._lock:
            self._unlock(create=False)
            self._reload()
            if not isinstance(self._doc.get("audit_anchor"), dict):
                self._doc["audit_anchor"] = dict(record)
                self._save()
                self._reload()
            return dict(self._doc["audit_anchor"])

    # --- internals --------------------------------------------------------------------------

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

    def _sweep_temp_files(self) -> None:
        """Remove the temp files of keyring writes killed before their rename. Every writer
        holds the keyring lock, so while we hold it no temp file belongs to a live one; each
        holds wrapped data keys (retired ones too), so none should linger."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

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
        self._doc[_RECORDS_FLAG] = True  # no store holds a record of this keyring yet
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

    def audit_key(self) -> bytes:
        """The audit chain key (created on first use for keyrings made without one)."""
        with self._lock:
            if self._audit_key is None:
                if self._primary is None:
                    self._unlock(create=False)
                if "audit_key" not in self._doc:
                    with self._locked():
                        self._reload()
                        if "audit_key" not in self._doc:
                            spec = self._cipher_for_name(
                                self._keys[self._primary or ""].cipher_name
                            )
                            self._doc["audit_key"] = self._new_audit_key(spec)
                            self._save()
                            self._reload()
                self._audit_key = self._unwrap_extra("audit_key", _AUDIT_AD)
            return self._audit_key

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

    def _save(self) -> None:
        """Write the keyring: every change bumps the generation and re-authenticates the
        ledger (adding the integrity key to a keyring made before it existed)."""
        if self._inline is not None:
            raise ConfigError(
                f"the keyring comes from {ENV_KEYRING} and is read-only here; rotate or "
                "re-wrap where the keyring file lives, then export it again"
            )
        self._verify_ledger()  # never re-authenticate an edited ledger
        if "integrity_key" not in self._doc:
            spec = self._cipher_for_name(self._new_key_cipher)
            self._doc["integrity_key"] = self._new_audit_key(spec, _INTEGRITY_AD)
            self._integrity_key = None
        self._doc["format"] = KEYRING_FORMAT
        self._doc.setdefault("stores", [])
        self._doc.setdefault("keyring_id", os.urandom(8).hex())
        self._doc["generation"] = int(self._doc.get("generation", 0)) + 1
        self._doc["ledger_mac"] = self._ledger_mac(self._doc)
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
