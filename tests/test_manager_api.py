"""The manager's key/token methods, check-and-set, per-instance capabilities and the
server-side (rewrap) rotation, driven through real (in-test) plugins."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secrets_core import builtin, hookimpl
from secrets_core.errors import (
    BackendConfigurationError,
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    InvalidSecretValueError,
    KeyNotAvailableError,
    SecretNotFoundError,
)
from secrets_core.manager import SecretsManager
from secrets_core.plugin import (
    ENTRY_POINT_GROUP,
    BackendSpec,
    Capability,
    CipherSpec,
    PluginRegistry,
)
from secrets_core.plugin._discovery import EntryPoint, entry_points
from secure_secrets import SecureSecretsManager


def installed(*names: str) -> list[EntryPoint]:
    """The installed plugins called ``names``, found as discovery finds them (no plugin
    module is imported here)."""
    found = [ep for ep in entry_points(ENTRY_POINT_GROUP) if ep.name in names]
    assert sorted(ep.name for ep in found) == sorted(names), "pip install -r requirements-dev.txt"
    return found


# --- seal, open, stored tokens, key state ----------------------------------------------------


def test_seal_and_open_round_trip_with_the_type_and_bound_to_the_name() -> None:
    manager = SecureSecretsManager()
    for value in ("text ✓", b"\x00bytes"):
        token = manager.seal("app/key", value)
        plaintext = value.encode() if isinstance(value, str) else value
        assert plaintext not in token, "the token must not carry the value in clear"
        assert manager.open_sealed("app/key", token) == value
    with pytest.raises(IntegrityError, match="another secret"):
        manager.open_sealed("app/other", manager.seal("app/key", "v"))
    with pytest.raises(IntegrityError, match="not a secure-secrets token"):
        manager.open_sealed("app/key", b"plaintext")


def test_key_state_methods() -> None:
    manager = SecureSecretsManager()
    assert not manager.keyring_path.exists()
    with pytest.raises(KeyNotAvailableError):
        manager.key_ids()
    key_id = manager.initialize_keys()
    assert manager.keyring_path.exists()
    assert manager.key_ids() == [key_id]
    assert manager.initialize_keys() == key_id  # unlocks, does not make another
    assert manager.rotation_pending() is None
    manager.rotate_encryption_key(keep_old_keys=0)
    assert key_id not in manager.key_ids()


def test_read_stored_returns_the_envelope_and_is_audited() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db/password", "hunter2")
    stored = manager.read_stored("db/password")
    assert isinstance(stored, bytes) and b"hunter2" not in stored
    assert manager.open_sealed("db/password", stored) == "hunter2"
    with pytest.raises(SecretNotFoundError):
        manager.read_stored("db/missing")
    log = manager.settings.log_dir / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    reads = [(e["operation"], e["outcome"]) for e in events if e["operation"] == "read_stored"]
    assert reads == [("read_stored", "success"), ("read_stored", "failure")]


def test_change_passphrase_refuses_another_key_source() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("k", "v")
    before = manager.keyring_path.read_bytes()
    with pytest.raises(ConfigError, match="change_key_source\\('passphrase'\\)"):
        manager.change_passphrase("a new passphrase")
    assert manager.keyring_path.read_bytes() == before
    assert SecureSecretsManager().retrieve_secret("k") == "v"


# --- a CAS backend with per-instance capabilities --------------------------------------------


class VersionedMemory:
    """Keeps versions in memory; CAS as Vault KV v2 does it; ``capabilities`` narrows."""

    def __init__(self, capabilities: frozenset[Capability]) -> None:
        self.capabilities = capabilities
        self.values: dict[str, list[bytes | str]] = {}

    def read(self, name: str) -> bytes | str:
        if name not in self.values:
            raise SecretNotFoundError(f"secret '{name}' not found")
        return self.values[name][-1]

    def read_version(self, name: str, version: int) -> bytes | str:
        return self.values[name][version - 1]

    def write(self, name: str, value: bytes | str, *, cas: int | None = None) -> int:
        current = len(self.values.get(name, []))
        if cas is not None and cas != current:
            raise ConflictError(f"'{name}' is at version {current}, not {cas}")
        self.values.setdefault(name, []).append(value)
        return current + 1

    def rewrite_versions(self, name: str, transform: Callable[[Any], Any]) -> int:
        old = self.values[name]
        self.values[name] = [transform(v) for v in old]
        return sum(a != b for a, b in zip(old, self.values[name]))

    def delete(self, name: str) -> None:
        self.values.pop(name)

    def list_names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.values if n.startswith(prefix))

    def close(self) -> None:
        pass


DECLARED = frozenset(
    {Capability.LIST, Capability.VERSIONS, Capability.CAS, Capability.ENCRYPTS_AT_REST}
)


def manager_with(instance: VersionedMemory, **kwargs: Any) -> SecretsManager:
    class Plugin:
        @hookimpl
        def secrets_register_backends(self) -> list[BackendSpec]:
            return [BackendSpec("vmem", lambda options, context: instance, DECLARED)]

    registry = PluginRegistry(
        entry_points=installed("fernet"), internal=[("core", builtin), ("vmem", Plugin())]
    )
    return SecretsManager(default_backend="vmem", registry=registry, **kwargs)


def test_check_and_set_through_the_manager() -> None:
    store = VersionedMemory(DECLARED)
    manager = manager_with(store)
    assert manager.store_secret("cfg", "one", cas=0).details["version"] == 1
    with pytest.raises(ConflictError):
        manager.store_secret("cfg", "lost", cas=0)
    assert manager.store_secret("cfg", "two", cas=1).details == {"cas": 1, "version": 2}
    with pytest.raises(ConflictError):
        manager.store_secret("cfg", "stale", cas=1)
    assert manager.retrieve_secret("cfg") == "two"
    with pytest.raises(InvalidSecretValueError, match="cas"):
        manager.store_secret("cfg", "x", cas=-1)
    for bad in (True, "1"):  # the wrong type: the caller's mistake (tests/test_api_arguments.py)
        with pytest.raises(InvalidArgumentError, match="cas"):
            manager.store_secret("cfg", "x", cas=bad)  # type: ignore[arg-type]
    assert store.values["cfg"] == ["one", "two"]


def test_the_instance_narrows_the_declared_capabilities() -> None:
    store = VersionedMemory(frozenset({Capability.LIST}))  # e.g. a KV v1 mount
    manager = manager_with(store)
    assert manager.backend_capabilities() == frozenset({Capability.LIST})
    assert manager.backend() is store
    manager.store_secret("cfg", "v")
    assert manager.retrieve_secret("cfg") == "v"
    with pytest.raises(BackendConfigurationError, match="does not support 'cas'"):
        manager.store_secret("cfg", "w", cas=1)
    with pytest.raises(BackendConfigurationError, match="does not support 'versions'"):
        manager.retrieve_secret("cfg", version=1)
    # Without ENCRYPTS_AT_REST on the instance, the manager sealed the value itself.
    assert isinstance(store.values["cfg"][0], bytes) and store.values["cfg"][0] != b"v"
    assert store.values["cfg"][0].startswith(b"ss1:")


def test_a_plain_instance_keeps_the_declared_capabilities() -> None:
    store = VersionedMemory(DECLARED)
    manager = manager_with(store)
    manager.store_secret("cfg", "plain")
    assert store.values["cfg"] == ["plain"]  # ENCRYPTS_AT_REST: stored as given
    assert manager.backend_capabilities() == DECLARED


# --- rotation by server-side rewrap ----------------------------------------------------------


class TransitLikeServer:
    """An in-process stand-in for a key server: versioned AES-GCM keys that never leave it,
    derived per data key from a context, as Vault Transit derives them."""

    def __init__(self) -> None:
        self.keys = [AESGCM.generate_key(bit_length=256)]
        self.decrypts = 0

    def encrypt(self, version: int, plaintext: bytes, ad: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[version - 1]).encrypt(nonce, plaintext, ad)
        return bytes([version]) + nonce + sealed

    def decrypt(self, token: bytes, ad: bytes) -> bytes:
        self.decrypts += 1
        try:
            key = self.keys[token[0] - 1]
            return AESGCM(key).decrypt(token[1:13], token[13:], ad)
        except Exception:
            raise IntegrityError("server: bad token") from None


class ServerCipher:
    def __init__(self, server: TransitLikeServer, data_key: bytes) -> None:
        self.server = server
        self.context = data_key

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        latest = len(self.server.keys)
        return self.server.encrypt(latest, plaintext, self.context + associated_data)

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        return self.server.decrypt(token, self.context + associated_data)

    def rotate_server_key(self) -> None:
        self.server.keys.append(AESGCM.generate_key(bit_length=256))

    def rewrap(self, token: bytes, associated_data: bytes) -> bytes | None:
        if token[0] == len(self.server.keys):
            return None
        ad = self.context + associated_data  # happens on the server, in the real thing
        key = self.server.keys[token[0] - 1]
        plaintext = AESGCM(key).decrypt(token[1:13], token[13:], ad)
        return self.server.encrypt(len(self.server.keys), plaintext, ad)


@pytest.mark.slow
def test_rotation_rewraps_on_the_server_and_keeps_the_data_key(tmp_path: Path) -> None:
    server = TransitLikeServer()

    class Plugin:
        @hookimpl
        def secrets_register_ciphers(self) -> list[CipherSpec]:
            return [CipherSpec("server", lambda key: ServerCipher(server, key))]

    registry = PluginRegistry(
        entry_points=installed("file", "fernet"),
        internal=[("core", builtin), ("server", Plugin())],
    )
    manager = SecretsManager(cipher="server", registry=registry)
    manager.store_secret("a", "first")
    manager.store_secret("a", "second")  # two versions
    manager.store_secret("b", b"bytes")
    key_id = manager.initialize_keys()

    def versions_in_store() -> set[int]:
        backend = manager.backend()
        tokens = [backend.read_version(n, v) for n, v in (("a", 1), ("a", 2), ("b", 1))]
        return {t[21] for t in tokens}  # the server key version after "ss1:<id>:"

    assert versions_in_store() == {1}
    event = manager.rotate_encryption_key()
    assert event.details["server_rewrap"] is True and event.details["key_id"] == key_id
    assert event.details["backends"]["file"]["rotated"] == 2
    assert manager.key_ids() == [key_id]  # no new data key
    assert versions_in_store() == {2}
    assert manager.retrieve_secret("a") == "second"
    assert manager.retrieve_secret("a", version=1) == "first"
    assert manager.retrieve_secret("b") == b"bytes"

    again = manager.rotate_encryption_key()  # the next rotation: the next server version
    assert versions_in_store() == {3}
    assert again.details["backends"]["file"]["rotated"] == 2
    assert manager.retrieve_secret("a", version=1) == "first"


def test_the_audit_log_of_a_store_without_a_keyring_is_not_tamper_evident() -> None:
    """Nothing authenticates such a log, so it is never "ok" (audit issue, item 3)."""
    manager = manager_with(VersionedMemory(DECLARED))  # encrypts at rest: no keyring needed
    manager.store_secret("cfg", "plain")
    manager.retrieve_secret("cfg")
    assert not manager.keyring_path.exists()
    result = manager.verify_audit_log()
    assert (result.ok, result.status, result.chained) == (False, "not_tamper_evident", 0)
