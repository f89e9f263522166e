"""Data keys: the primary key for new ciphertext, rotation, and re-wrapping under a new KEK.

:class:`KeyManager` is the keyring as the rest of the core uses it: the keyring file
(``_keyring_file``), its ledger of stores (``_ledger``) and the audit chain's key and anchor
(``_anchor``), plus the data-key operations here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import time
from collections.abc import Iterator

from secrets_core.errors import (
    EncryptionError,
    KeyNotAvailableError,
    LockTimeoutError,
    RotationIncompleteError,
)
from secrets_core.keys._anchor import AuditAnchor
from secrets_core.keys._keyring_file import (
    _AUDIT_AD,
    LOCK_TIMEOUT_SECONDS,
    RECORDS_FLAG,
    _now,
    _wrap_ad,
)
from secrets_core.keys._ledger import _INTEGRITY_AD, Ledger
from secrets_core.plugin._api import Cipher, KeySource


class KeyManager(Ledger, AuditAnchor):
    """Loads, creates and rotates the keyring at ``path`` (arguments: see
    :class:`~secrets_core.keys._keyring_file.KeyringFile`)."""

    def primary(self) -> tuple[str, Cipher]:
        """The current primary key id and cipher, creating the keyring on first use."""
        with self._lock:
            self._loaded(create=True)
            assert self._primary is not None
            return self._primary, self._cipher(self._primary)

    @contextlib.contextmanager
    def sealing(self) -> Iterator[tuple[str, Cipher]]:
        """The primary key for new ciphertext, with the keyring's lock held *shared* until
        the caller has written it. A rotation takes the lock exclusively to start and to
        retire keys, so it waits for writes in flight, and a write that starts after it
        seals under the new key: no token can appear under a key the rotation retires
        without having re-encrypted it."""
        if self._primary is None:  # creating the keyring takes the lock exclusively: first
            self.primary()  # (once loaded, the read under the lock below sees any change)
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
            self._doc[RECORDS_FLAG] = True  # every store's records were rewritten, with MACs
            self._save()
            self._reload()
            return sorted(drop)

    def rotation_pending(self) -> str | None:
        """The target key id of an unfinished rotation, if any."""
        with self._lock:
            self._loaded()
            pending = self._doc.get("rotation")
            return str(pending["target"]) if isinstance(pending, dict) else None

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
