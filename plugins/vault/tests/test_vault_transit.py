"""The ``transit`` cipher against a real OpenBao Transit engine: the cipher contract, rewrap
after a key rotation, and the file backend encrypted through Transit by the manager."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from secure_secrets_vault import plugin, transit

from secrets_core.errors import AccessDeniedError, IntegrityError
from secrets_core.plugin import CipherSpec
from secrets_core.testing import CipherContract
from secure_secrets import SecureSecretsManager


@pytest.fixture
def transit_env(vault_server, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    monkeypatch.setenv("VAULT_TRANSIT_KEY", unique)
    transit.configure()
    yield unique
    transit.configure()


class TestTransitCipherContract(CipherContract):
    @pytest.fixture
    def cipher_spec(self, transit_env: str) -> CipherSpec:
        return plugin.secrets_register_ciphers()[0]


def test_keys_stay_on_the_server_and_rewrap_follows_rotation(vault_server, transit_env) -> None:
    cipher = transit.make_cipher(os.urandom(32))
    token = cipher.encrypt(b"payload", b"name-a")
    assert b"payload" not in token and token.startswith(b"VT1\x00\x00\x00\x01")
    assert cipher.rewrap(token, b"name-a") is None, "already under the newest key version"
    cipher.rotate_server_key()
    rewrapped = cipher.rewrap(token, b"name-a")
    assert rewrapped is not None and rewrapped.startswith(b"VT1\x00\x00\x00\x02")
    assert cipher.rewrap(rewrapped, b"name-a") is None
    assert cipher.decrypt(rewrapped, b"name-a") == b"payload"
    assert cipher.decrypt(token, b"name-a") == b"payload", "old versions still decrypt"
    vault_server.admin().secrets.transit.update_key_configuration(
        name=transit_env, min_decryption_version=2
    )
    with pytest.raises(IntegrityError):
        cipher.decrypt(token, b"name-a")
    assert cipher.decrypt(rewrapped, b"name-a") == b"payload"


def test_a_token_without_transit_access_is_denied(vault_server, transit_env, monkeypatch) -> None:
    token = vault_server.admin().auth.token.create(policies=["default"])["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    transit.configure()
    with pytest.raises(AccessDeniedError) as info:
        transit.make_cipher(os.urandom(32)).encrypt(b"x", b"a")
    assert token not in str(info.value)


def test_the_file_backend_encrypted_through_transit(transit_env: str) -> None:
    manager = SecureSecretsManager(cipher="transit")
    manager.store_secret("api_key", "through-transit")
    assert manager.retrieve_secret("api_key") == "through-transit"
    event = manager.rotate_encryption_key()
    assert event.details["backends"]["file"]["rotated"] == 1
    assert manager.retrieve_secret("api_key") == "through-transit"


def transit_version(token: bytes | str) -> int:
    """The Transit key version inside a stored envelope (``ss1:<key id>:VT1<version>...``)."""
    assert isinstance(token, bytes) and token[21:24] == transit.MAGIC
    return int.from_bytes(token[24:28], "big")


def stored_versions(manager: SecureSecretsManager, names: list[str]) -> dict[str, list[int]]:
    """The Transit key version of every stored version of each secret (file backend)."""
    out = {}
    for name in names:
        meta = manager.secret_metadata(name)
        backend = manager.backend("file")
        out[name] = [
            transit_version(backend.read_version(name, v.version))  # type: ignore[attr-defined]
            for v in meta.versions
        ]
    return out


def test_rotation_rewraps_on_the_server_under_the_same_data_key(vault_server, transit_env) -> None:
    manager = SecureSecretsManager(cipher="transit")
    names = ["db/password", "api_key", "token"]
    for name in names:
        manager.store_secret(name, f"{name}-v1")
        manager.store_secret(name, f"{name}-v2".encode())
    key_ids = manager.key_ids()
    assert {v for vs in stored_versions(manager, names).values() for v in vs} == {1}

    event = manager.rotate_encryption_key()
    assert event.details["server_rewrap"] is True and "new_key_id" not in event.details
    assert event.details["key_id"] == key_ids[0] and manager.key_ids() == key_ids
    assert event.details["backends"]["file"] == {"rotated": 3, "skipped": 0, "failed": 0}
    assert stored_versions(manager, names) == {name: [2, 2] for name in names}
    for name in names:
        assert manager.retrieve_secret(name) == f"{name}-v2".encode()
        assert manager.retrieve_secret(name, version=1) == f"{name}-v1"

    again = manager.rotate_encryption_key()  # running it again (resuming) is safe
    assert again.details["server_rewrap"] is True and manager.key_ids() == key_ids
    assert stored_versions(manager, names) == {name: [3, 3] for name in names}
    key = vault_server.admin().secrets.transit.read_key(name=transit_env)["data"]
    assert key["latest_version"] == 3 and key["derived"] is True
    assert manager.retrieve_secret("token", version=1) == "token-v1"

    # Once every token is under the newest version, old versions can be retired on the server.
    vault_server.admin().secrets.transit.update_key_configuration(
        name=transit_env, min_decryption_version=3
    )
    assert manager.retrieve_secret("api_key") == b"api_key-v2"
    manager.close()


def test_rotation_after_the_key_was_rotated_elsewhere(vault_server, transit_env) -> None:
    """Tokens under any older version (here: v1 and v2) all move to the newest one; the
    cipher reads the key's latest version from the server rather than assuming it."""
    manager = SecureSecretsManager(cipher="transit")
    manager.store_secret("first", "1")
    cipher = transit.make_cipher(os.urandom(32))
    cipher.rotate_server_key()  # another client (or an interrupted rotation) rotated it
    manager.store_secret("second", "2")  # written under v2
    event = manager.rotate_encryption_key()
    assert event.details["backends"]["file"] == {"rotated": 2, "skipped": 0, "failed": 0}
    manager.store_secret("third", "3")
    names = ["first", "second", "third"]
    assert {n: v[-1] for n, v in stored_versions(manager, names).items()} == {
        "first": 3, "second": 3, "third": 3,
    }  # fmt: skip
    assert [manager.retrieve_secret(n) for n in names] == ["1", "2", "3"]
    manager.close()
