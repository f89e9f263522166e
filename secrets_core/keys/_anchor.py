"""The audit chain's key and anchor, kept in the keyring (opaque here: ``secrets_core.audit``
makes and checks them)."""

from __future__ import annotations

from typing import Any

from secrets_core.keys._keyring_file import _AUDIT_AD, KeyringFile


class AuditAnchor(KeyringFile):
    """The audit chain key (wrapped by the KEK, kept across rotations) and its anchor."""

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

    def audit_anchor(self) -> dict[str, Any] | None:
        """The record anchoring the audit chain's start, as stored, or None."""
        with self._lock:
            self._loaded()
            found = self._doc.get("audit_anchor")
            return dict(found) if isinstance(found, dict) else None

    def set_audit_anchor(
        self, record: dict[str, Any], replacing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Store ``record`` as the audit chain's anchor if the one in force is ``replacing``
        (None: only where there is none yet); return the one in force. Only the audit trail
        moves an anchor, forward, when retention deletes the oldest log files; the record is
        MACed with the audit key, so someone who can only edit files cannot move it."""
        with self._locked(), self._lock:
            self._unlock(create=False)
            self._reload()
            current = self._doc.get("audit_anchor")
            if (current if isinstance(current, dict) else None) == replacing:
                self._doc["audit_anchor"] = dict(record)
                self._save()
                self._reload()
            return dict(self._doc["audit_anchor"])
