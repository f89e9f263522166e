"""A reference backend, key source and audit sink that pass every contract of the kit, and
deliberately broken variants (one fault each) that the kit must fail.

``tests/test_conformance_kit.py`` runs the kit's contracts over all of them in one pytest
subprocess and checks that the reference passes and every variant fails the contract named
in :data:`BROKEN`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from secrets_core.errors import (
    AuditError,
    BackendUnavailableError,
    ConflictError,
    IntegrityError,
    SecretNotFoundError,
)
from secrets_core.plugin import (
    AuditSinkSpec,
    BackendSpec,
    Capability,
    KeySourceSpec,
    SecretMetadata,
    VersionInfo,
)

Value = bytes | str


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class _Secret:
    def __init__(self) -> None:
        self.versions: dict[int, tuple[Value, str]] = {}
        self.custom: dict[str, str] = {}
        self.deleted = False
        self.created = now()
        self.updated = self.created


class Reference:
    """Every capability, with the semantics docs/hooks.md specifies."""

    def __init__(self, options: Mapping[str, Any] | None = None, context: object = None) -> None:
        self.secrets: dict[str, _Secret] = {}
        self.lock = threading.RLock()
        self.down = False

    # helpers a broken variant overrides
    def _live(self, name: str) -> _Secret:
        secret = self.secrets.get(name)
        if secret is None or secret.deleted:
            raise SecretNotFoundError(f"secret '{name}' not found")
        return secret

    def _any(self, name: str) -> _Secret:
        if name not in self.secrets:
            raise SecretNotFoundError(f"secret '{name}' not found")
        return self.secrets[name]

    def _check(self) -> None:
        if self.down:
            raise BackendUnavailableError("the reference store is down")

    def _next_version(self, secret: _Secret) -> int:
        return max(secret.versions, default=0) + 1

    def _store(self, secret: _Secret, value: Value) -> int:
        version = self._next_version(secret)
        stamp = now()
        secret.versions[version] = (value, stamp)
        secret.updated = stamp
        secret.deleted = False
        return version

    # StorageBackend
    def read(self, name: str) -> Value:
        self._check()
        with self.lock:
            secret = self._live(name)
            return secret.versions[max(secret.versions)][0]

    def write(self, name: str, value: Value, *, cas: int | None = None) -> int:
        self._check()
        with self.lock:
            secret = self.secrets.get(name)
            current = max(secret.versions, default=0) if secret else 0
            if cas is not None and cas != current:
                raise ConflictError(f"secret '{name}' is at version {current}, not {cas}")
            if secret is None:
                secret = self.secrets[name] = _Secret()
            return self._store(secret, value)

    def delete(self, name: str) -> None:
        self._check()
        with self.lock:
            self._live(name).deleted = True

    def list_names(self, prefix: str = "") -> list[str]:
        self._check()
        with self.lock:
            return sorted(
                n for n, s in self.secrets.items() if n.startswith(prefix) and not s.deleted
            )

    def close(self) -> None:
        pass

    # VERSIONS
    def read_version(self, name: str, version: int) -> Value:
        self._check()
        with self.lock:
            secret = self._live(name)
            if version not in secret.versions:
                raise SecretNotFoundError(f"version {version} of '{name}' not found")
            return secret.versions[version][0]

    def rewrite_versions(self, name: str, transform: Callable[[Value], Value]) -> int:
        with self.lock:
            secret = self._any(name)
            new = {v: (transform(value), stamp) for v, (value, stamp) in secret.versions.items()}
            changed = sum(new[v][0] != secret.versions[v][0] for v in new)
            secret.versions = new
            return changed

    # METADATA
    def metadata(self, name: str) -> SecretMetadata:
        with self.lock:
            s = self._any(name)
            versions = tuple(
                VersionInfo(v, stamp) for v, (_value, stamp) in sorted(s.versions.items())
            )
            return SecretMetadata(
                name, s.created, s.updated, max(s.versions), versions, dict(s.custom), s.deleted
            )

    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None:
        with self.lock:
            self._live(name).custom = dict(custom)

    # SOFT_DELETE
    def restore(self, name: str) -> None:
        with self.lock:
            secret = self._any(name)
            if not secret.deleted:
                raise SecretNotFoundError(f"secret '{name}' is not deleted")
            secret.deleted = False

    def purge(self, name: str) -> None:
        with self.lock:
            self._any(name)
            del self.secrets[name]

    def list_deleted(self, prefix: str = "") -> list[str]:
        with self.lock:
            return sorted(n for n, s in self.secrets.items() if n.startswith(prefix) and s.deleted)


class PrefixListsDeleted(Reference):
    def list_names(self, prefix: str = "") -> list[str]:
        return (
            sorted(n for n in self.secrets if n.startswith(prefix))
            if prefix
            else super().list_names()
        )


class ListDeletedReturnsLive(Reference):
    def list_deleted(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.secrets if n.startswith(prefix))


class WriteDropsCustom(Reference):
    def _store(self, secret: _Secret, value: Value) -> int:
        secret.custom = {}
        return super()._store(secret, value)


class RestoreDropsCustom(Reference):
    def restore(self, name: str) -> None:
        super().restore(name)
        self.secrets[name].custom = {}


class DeletedNotInMetadata(Reference):
    def metadata(self, name: str) -> SecretMetadata:
        return super().metadata(name)._replace(deleted=False)


class MetadataNotFoundWhenDeleted(Reference):
    def metadata(self, name: str) -> SecretMetadata:
        self._live(name)
        return super().metadata(name)


class CreatedMoves(Reference):
    def _store(self, secret: _Secret, value: Value) -> int:
        version = super()._store(secret, value)
        secret.created = secret.updated
        return version


class EmptyVersionTimes(Reference):
    def _store(self, secret: _Secret, value: Value) -> int:
        version = super()._store(secret, value)
        secret.versions[version] = (value, "")
        return version


class LocalTimes(Reference):
    def _store(self, secret: _Secret, value: Value) -> int:
        version = super()._store(secret, value)
        secret.updated = dt.datetime.now(dt.timezone(dt.timedelta(hours=2))).isoformat()
        return version


class RewriteSkipsDeleted(Reference):
    def rewrite_versions(self, name: str, transform: Callable[[Value], Value]) -> int:
        return 0 if self._any(name).deleted else super().rewrite_versions(name, transform)


class RewriteHalfDone(Reference):
    def rewrite_versions(self, name: str, transform: Callable[[Value], Value]) -> int:
        secret, changed = self._any(name), 0
        for version, (value, stamp) in sorted(secret.versions.items()):
            secret.versions[version] = (transform(value), stamp)  # in place: a failure half-way
            changed += 1
        return changed


class WriteLeavesDeleted(Reference):
    def _store(self, secret: _Secret, value: Value) -> int:
        deleted = secret.deleted
        version = super()._store(secret, value)
        secret.deleted = deleted
        return version


class LostUpdates(Reference):
    def write(self, name: str, value: Value, *, cas: int | None = None) -> int:
        secret = self.secrets.setdefault(name, _Secret())
        version = self._next_version(secret)
        time.sleep(0.0005)  # read-modify-write without the lock
        secret.versions[version] = (value, now())
        return version


class RawErrorWhenDown(Reference):
    def _check(self) -> None:
        if self.down:
            raise ConnectionRefusedError("[Errno 111] connect to http://store:8200 refused")


class NotFoundWhenDown(Reference):
    def _check(self) -> None:
        if self.down:
            raise SecretNotFoundError("secret not found")


class SlowWhenDown(Reference):
    def _check(self) -> None:
        if self.down:
            time.sleep(1.2)  # a timeout longer than the kit's DOWN_WITHIN_SECONDS (1 s)
        super()._check()


class ReadsTheOldest(Reference):
    def read(self, name: str) -> Value:
        secret = self._live(name)
        return secret.versions[min(secret.versions)][0]


class NumberingSurvivesPurge(Reference):
    highest: dict[str, int] = {}

    def _next_version(self, secret: _Secret) -> int:
        name = next(n for n, s in self.secrets.items() if s is secret)
        self.highest[name] = self.highest.get(name, 0) + 1
        return self.highest[name]

    def __init__(self, options: Mapping[str, Any] | None = None, context: object = None) -> None:
        super().__init__(options, context)
        self.highest = {}


class CustomMerges(Reference):
    def set_custom_metadata(self, name: str, custom: Mapping[str, str]) -> None:
        self._live(name).custom.update(custom)


class CasZeroIgnoresDeleted(Reference):
    def write(self, name: str, value: Value, *, cas: int | None = None) -> int:
        secret = self.secrets.get(name)
        if cas == 0 and secret is not None and secret.deleted:
            cas = None
        return super().write(name, value, cas=cas)


class DeletedVersionsReadable(Reference):
    def read_version(self, name: str, version: int) -> Value:
        return self._any(name).versions[version][0]


class VersionNumbersRepeat(Reference):
    def write(self, name: str, value: Value, *, cas: int | None = None) -> int:
        super().write(name, value, cas=cas)
        return 1


ALL = frozenset(Capability) - {Capability.ENCRYPTS_AT_REST, Capability.MULTI_PROCESS}


class SharedFile:
    """``Capability.MULTI_PROCESS`` done right: one JSON file that every operation reads and
    rewrites whole under an ``flock`` on a separate lock file."""

    CAPABILITIES = frozenset({Capability.LIST, Capability.VERSIONS, Capability.MULTI_PROCESS})

    def __init__(self, options: Mapping[str, Any] | None = None, context: Any = None) -> None:
        self.path = Path(context.data_dir) / "shared.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.down = False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, list[str]]]]:
        """The store's content, under the lock; written back (atomically) when changed."""
        if self.down:
            raise BackendUnavailableError("the shared file store is down")
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._save(data)

    def _load(self) -> dict[str, dict[str, list[str]]]:
        try:
            loaded: dict[str, dict[str, list[str]]] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return loaded

    def _save(self, data: dict[str, dict[str, list[str]]]) -> None:
        temp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temp.write_text(json.dumps(data))
        os.replace(temp, self.path)

    @staticmethod
    def _pack(value: Value) -> list[str]:
        if isinstance(value, str):
            return ["s", value]
        return ["b", base64.b64encode(value).decode()]

    @staticmethod
    def _unpack(packed: list[str]) -> Value:
        return packed[1] if packed[0] == "s" else base64.b64decode(packed[1])

    def _versions(self, data: dict[str, dict[str, list[str]]], name: str) -> dict[str, list[str]]:
        if name not in data:
            raise SecretNotFoundError(f"secret '{name}' not found")
        return data[name]

    def read(self, name: str) -> Value:
        with self._locked() as data:
            versions = self._versions(data, name)
            return self._unpack(versions[max(versions, key=int)])

    def read_version(self, name: str, version: int) -> Value:
        with self._locked() as data:
            versions = self._versions(data, name)
            if str(version) not in versions:
                raise SecretNotFoundError(f"version {version} of '{name}' not found")
            return self._unpack(versions[str(version)])

    def write(self, name: str, value: Value) -> int:
        with self._locked() as data:
            versions = data.setdefault(name, {})
            version = max(map(int, versions), default=0) + 1
            versions[str(version)] = self._pack(value)
            return version

    def delete(self, name: str) -> None:
        with self._locked() as data:
            self._versions(data, name)
            del data[name]

    def list_names(self, prefix: str = "") -> list[str]:
        with self._locked() as data:
            return sorted(n for n in data if n.startswith(prefix))

    def rewrite_versions(self, name: str, transform: Callable[[Value], Value]) -> int:
        with self._locked() as data:
            old = self._versions(data, name)
            new = {v: self._pack(transform(self._unpack(packed))) for v, packed in old.items()}
            data[name] = new
            return sum(new[v] != old[v] for v in new)

    def close(self) -> None:
        pass


class CachedSharedFile(SharedFile):
    """Declares ``MULTI_PROCESS`` but keeps the store in memory, loaded once when opened and
    written back whole, without a lock, after every change: another process's writes are lost."""

    def __init__(self, options: Mapping[str, Any] | None = None, context: Any = None) -> None:
        super().__init__(options, context)
        self.cache = self._load()
        self.lock = threading.Lock()  # threads of one process are safe; other processes not

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, list[str]]]]:
        if self.down:
            raise BackendUnavailableError("the shared file store is down")
        with self.lock:
            yield self.cache
            self._save(self.cache)


#: class -> the contract test (a substring of its name) that must fail for it.
BROKEN: dict[type[Reference] | type[SharedFile], str] = {
    PrefixListsDeleted: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    ListDeletedReturnsLive: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    WriteDropsCustom: "test_set_custom_metadata_replaces_and_survives_writes",
    RestoreDropsCustom: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    DeletedNotInMetadata: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    MetadataNotFoundWhenDeleted: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    CreatedMoves: "test_times_are_iso8601_utc_and_created_is_stable",
    EmptyVersionTimes: "test_times_are_iso8601_utc_and_created_is_stable",
    LocalTimes: "test_times_are_iso8601_utc_and_created_is_stable",
    RewriteSkipsDeleted: "test_rewrite_versions_covers_soft_deleted_secrets",
    RewriteHalfDone: "test_rewrite_versions_is_all_or_nothing",
    WriteLeavesDeleted: "test_a_write_over_a_soft_deleted_secret_undeletes_it",
    LostUpdates: "test_threads_sharing_one_instance_lose_no_write",
    RawErrorWhenDown: "test_a_store_that_is_down_raises_a_secrets_error",
    NotFoundWhenDown: "test_a_store_that_is_down_raises_a_secrets_error",
    SlowWhenDown: "test_a_store_that_is_down_raises_a_secrets_error",
    ReadsTheOldest: "test_read_returns_the_newest_of_several_writes",
    NumberingSurvivesPurge: "test_purge_then_recreate_starts_a_new_secret",
    CustomMerges: "test_set_custom_metadata_replaces_and_survives_writes",
    CasZeroIgnoresDeleted: "test_cas_zero_treats_a_soft_deleted_secret_as_existing",
    DeletedVersionsReadable: "test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata",
    VersionNumbersRepeat: "test_version_numbers_strictly_increase",
    CachedSharedFile: "test_processes_sharing_one_store_lose_no_write",
}


def spec(cls: type[Reference] | type[SharedFile]) -> BackendSpec:
    return BackendSpec(name="ref", factory=cls, capabilities=getattr(cls, "CAPABILITIES", ALL))


# --- key sources ------------------------------------------------------------------------------


class RefKeySource:
    """A random KEK kept in memory, its id in the params."""

    def __init__(self, options: Mapping[str, Any] | None = None, context: object = None) -> None:
        self.keys: dict[str, bytes] = {}

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        key_id = base64.b32encode(os.urandom(5)).decode()
        self.keys[key_id] = os.urandom(length)
        return self.keys[key_id], {"key_id": key_id}

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        key_id = params.get("key_id")
        if not isinstance(key_id, str) or key_id not in self.keys:
            raise IntegrityError("the keyring names a key this source does not have")
        return self.keys[key_id]


class SameKeyEveryTime(RefKeySource):
    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        self.keys["fixed"] = b"k" * length
        return self.keys["fixed"], {"key_id": "fixed"}


class RawErrorOnCorruptParams(RefKeySource):
    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        return self.keys[params["key_id"]]  # KeyError / TypeError


class KeyInRepr(RefKeySource):
    def __repr__(self) -> str:
        return f"<KeyInRepr {[k.hex() for k in self.keys.values()]}>"


class KeyInErrorMessage(RefKeySource):
    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        try:
            return super().load_kek(params, length)
        except IntegrityError:
            known = ", ".join(base64.b64encode(k).decode() for k in self.keys.values())
            raise IntegrityError(f"no such key; known keys: {known}") from None


BROKEN_KEY_SOURCES: dict[type[RefKeySource], str] = {
    SameKeyEveryTime: "test_two_creations_give_different_keys",
    RawErrorOnCorruptParams: "test_corrupt_or_foreign_params_raise_or_give_the_same_key",
    KeyInRepr: "test_params_and_repr_do_not_hold_the_key",
    KeyInErrorMessage: "test_corrupt_or_foreign_params_raise_or_give_the_same_key",
}


# --- audit sinks ------------------------------------------------------------------------------


class RefSink:
    """Records event JSON lines in a list; ``reachable`` False makes it fail."""

    def __init__(self, options: Mapping[str, Any] | None = None, context: object = None) -> None:
        self.lines: list[str] = []
        self.reachable = True
        self.closed = False

    def check(self) -> None:
        if not self.reachable:
            raise AuditError("the reference sink is unreachable")

    def emit(self, event: Any) -> None:
        if self.closed:
            raise AuditError("the reference sink is closed")
        self.check()
        self.lines.append(event.to_json())

    def close(self) -> None:
        self.closed = True


class SwallowsFailures(RefSink):
    def emit(self, event: Any) -> None:
        if self.reachable:
            super().emit(event)


class CheckSaysOk(RefSink):
    def check(self) -> None:
        pass

    def emit(self, event: Any) -> None:
        if not self.reachable:
            raise AuditError("unreachable")
        super().emit(event)


class RawErrorAfterClose(RefSink):
    def emit(self, event: Any) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        super().emit(event)


class DropsAfterClose(RefSink):
    def emit(self, event: Any) -> None:
        if not self.closed:
            super().emit(event)


BROKEN_SINKS: dict[type[RefSink], str] = {
    SwallowsFailures: "test_an_unreachable_sink_raises_from_emit_and_check",
    CheckSaysOk: "test_an_unreachable_sink_raises_from_emit_and_check",
    RawErrorAfterClose: "test_emit_after_close_records_or_raises_audit_error",
    DropsAfterClose: "test_emit_after_close_records_or_raises_audit_error",
}

__all__ = [
    "BROKEN",
    "BROKEN_KEY_SOURCES",
    "BROKEN_SINKS",
    "AuditSinkSpec",
    "KeySourceSpec",
    "RefKeySource",
    "RefSink",
    "Reference",
    "SharedFile",
    "spec",
]
