"""The keyring's ledger of stores, from the composition root's side: which store a backend
instance is, recording it before it seals its first value, the keyring stamp that catches a
rolled-back ``keyring.json``, and reopening a recorded store for rotation. What the keyring
keeps of it is in :mod:`secrets_core.keys._ledger`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secrets_core.config import resolve_options
from secrets_core.errors import BackendConfigurationError, KeyringRollbackError, SecretsError
from secrets_core.keys import envelope
from secrets_core.plugin._api import BackendSpec, StorageBackend

if TYPE_CHECKING:
    from secrets_core.assembly import Assembly


class StoreLedger:
    """The stores one :class:`~secrets_core.assembly.Assembly` seals values in."""

    def __init__(self, assembly: Assembly) -> None:
        self._assembly = assembly
        self._recorded: set[str] = set()  # backends whose store is in the keyring's ledger
        self.opened: list[StorageBackend] = []  # opened from the ledger, closed with it

    def recorded(self, name: str) -> bool:
        """Whether backend ``name``'s store was recorded (or found recorded) by this process."""
        return name in self._recorded

    def entry(
        self, name: str, backend: object = None, table: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What identifies the store of backend ``name`` in the keyring's ledger: the plugin
        name, the options that reopen it (the backend's ``store_identity`` if it has one,
        else its resolved options minus credentials) and a digest of both."""
        assembly = self._assembly
        if backend is None:
            backend = assembly.backend(name)[1]
        identity = getattr(backend, "store_identity", None)
        if not isinstance(identity, Mapping):
            spec = assembly.registry.get(BackendSpec, name)
            if table is None:
                table = assembly.settings.backends.get(name, {})
            resolved = resolve_options(spec.options, table, assembly.where(f"backends.{name}"))
            identity = {k: v for k, v in resolved.items() if not spec.options[k].secret}
        options = {
            str(k): v for k, v in sorted(identity.items()) if isinstance(v, (str, int, float))
        }
        digest = hashlib.sha256(json.dumps([name, options], sort_keys=True).encode())
        return {"id": digest.hexdigest()[:32], "backend": name, "options": options}

    def record(self, name: str) -> None:
        """Make sure the keyring's ledger names the store of backend ``name`` before it seals
        its first value: a look at the loaded keyring the first time per process, a locked
        keyring replace the first time ever, nothing after."""
        if name in self._recorded:
            return
        entry = self.entry(name)
        self._assembly.key_manager().record_store(entry)
        self.check_stamp(self._assembly.backend(name)[1], entry["id"])
        self._recorded.add(name)

    def check_stamp(self, backend: object, store_id: str, update: bool = True) -> None:
        """Refuse (:class:`~secrets_core.errors.KeyringRollbackError`) a keyring older than
        one the store was written with, and stamp the store with this keyring's generation
        when it is newer. Only backends with ``read_keyring_stamp``/``write_keyring_stamp``
        (the ``file`` backend) keep a stamp."""
        read = getattr(backend, "read_keyring_stamp", None)
        if not callable(read):
            return
        keys = self._assembly.key_manager()
        if keys.check_stamp(store_id, read()) and update:
            backend.write_keyring_stamp(keys.stamp(store_id))  # type: ignore[attr-defined]

    def check_known_key(self, spec: BackendSpec, name: str) -> None:
        """Refuse a write over a token sealed under a data key this keyring does not know (an
        older keyring put back after a rotation): the value would be lost when the newest
        keyring comes back. Run on a store's first write per process."""
        backend = self._assembly.backend(spec.name)[1]
        try:
            key_id = envelope.key_id_of(backend.read(name), name)
        except SecretsError:  # nothing there yet, or not a token: nothing to compare
            return
        keys = self._assembly.key_manager()
        if key_id not in keys.key_ids():
            keys.primary()  # re-read: another process may have rotated
            if key_id not in keys.key_ids():
                raise KeyringRollbackError(
                    f"secret '{name}' is stored under data key {key_id}, which the keyring "
                    f"{keys.path} does not know: an older keyring.json was put back (or this "
                    "store belongs to another keyring). Nothing was written; put the newest "
                    "keyring back"
                )

    def open_recorded(self, entry: Mapping[str, Any]) -> tuple[BackendSpec, StorageBackend]:
        """Open a store named in the ledger with its recorded options over the configured
        ``[backends.NAME]`` table (which may hold its credentials). Raises
        :class:`BackendConfigurationError` if what opens is not the recorded store."""
        name = str(entry["backend"])
        table = {**self._assembly.settings.backends.get(name, {}), **entry["options"]}
        spec, backend = self._assembly.make_backend(name, table)
        self.opened.append(backend)
        if self.entry(name, backend, table)["id"] != entry["id"]:
            raise BackendConfigurationError(
                f"the store recorded as backend '{name}' with {dict(entry['options'])} opens as "
                "another store here; configure [backends." + name + "] as it was recorded"
            )
        return spec, backend
