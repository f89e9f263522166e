"""The ledger of stores, the keyring's generation and what is derived from its integrity key.

The keyring lists every store that has sealed a value with it (``stores``), counts its
changes (``generation``) and authenticates both with an HMAC keyed from its integrity key
(wrapped by the KEK like a data key). Stores keep a stamp of the newest generation that
wrote to them, so a keyring put back from before a rotation is refused; backends MAC their
records with the record key derived here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from secrets_core.errors import IntegrityError, KeyringRollbackError
from secrets_core.keys._keyring_file import RECORDS_FLAG, KeyringFile, _now
from secrets_core.plugin._api import RecordKey

_INTEGRITY_AD = b"secure-secrets keyring v1\0integrity"
_RECORDS_LABEL = "store records"  # the label of the record-MAC key, apart from "ledger"


class Ledger(KeyringFile):
    """The ledger of stores, generations and stamps, and the integrity key's derived keys."""

    def stores(self) -> list[dict[str, Any]]:
        """The authenticated ledger: every store that has sealed a value with this keyring
        (``{"id", "backend", "options", "recorded"}``), oldest first. Raises
        :class:`IntegrityError` if the ledger was edited."""
        with self._lock:
            self._loaded()
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
        with self._lock:
            self._loaded(create=True)  # creates the keyring on first use
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
            self._loaded()
            key = self.integrity_key(_RECORDS_LABEL)
            legacy_readable = self._doc.get(RECORDS_FLAG) is not True
            if legacy_readable:
                self._verify_ledger()
            return RecordKey(key, legacy_readable)

    def _derived(self, purpose: str) -> bytes:
        if self._integrity_key is None:
            self._integrity_key = self._unwrap_extra("integrity_key", _INTEGRITY_AD)
        return hmac.new(self._integrity_key, purpose.encode(), hashlib.sha256).digest()

    def _authenticate(self) -> None:
        """Bump the generation and re-authenticate the ledger (adding the integrity key to a
        keyring made before it existed); never re-authenticate an edited ledger."""
        self._verify_ledger()
        if "integrity_key" not in self._doc:
            spec = self._cipher_for_name(self._new_key_cipher)
            self._doc["integrity_key"] = self._new_audit_key(spec, _INTEGRITY_AD)
            self._integrity_key = None
        self._doc.setdefault("stores", [])
        self._doc.setdefault("keyring_id", os.urandom(8).hex())
        self._doc["generation"] = int(self._doc.get("generation", 0)) + 1
        self._doc["ledger_mac"] = self._ledger_mac(self._doc)

    def _ledger_mac(self, doc: dict[str, Any]) -> str:
        body = json.dumps(
            {
                "stores": doc.get("stores", []),
                "generation": doc.get("generation", 0),
                "keyring_id": doc.get("keyring_id", ""),
                # Only when set, so keyrings MACed before the flag existed still verify.
                **({RECORDS_FLAG: doc[RECORDS_FLAG]} if RECORDS_FLAG in doc else {}),
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
