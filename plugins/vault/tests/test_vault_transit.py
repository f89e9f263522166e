"""The ``transit`` cipher against a real OpenBao Transit engine: the cipher contract, rewrap
after a key rotation, and the file backend encrypted through Transit by the manager."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from secure_secrets_vault import plugin, transit

from secrets_core.descriptors import CipherSpec
from secrets_core.errors import AccessDeniedError, IntegrityError
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
    cipher.rotate_key()
    rewrapped = cipher.rewrap(token, b"name-a")
    assert rewrapped.startswith(b"VT1\x00\x00\x00\x02")
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
