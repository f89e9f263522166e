"""Key sources, passphrases, re-wrapping, and bad key material: typed errors, store untouched."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from secrets_core.plugin import KdfSpec, get_registry
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import ConfigError, IntegrityError, KeyNotAvailableError

PASSPHRASE_VAR = "SECURE_SECRETS_PASSPHRASE"


def kdf_class(name: str = "argon2id") -> type:
    """The class of the KDF the registry builds for ``name``, to count its derivations."""
    return type(get_registry().get(KdfSpec, name).make({}))


def data_dir(home: Path) -> Path:
    return home / "data" / "secure-secrets"


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file of the data dir, to prove a failure changed nothing."""
    root = data_dir(home)
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def passphrase_manager(monkeypatch: pytest.MonkeyPatch) -> SecureSecretsManager:
    monkeypatch.setenv(PASSPHRASE_VAR, "correct horse battery staple")
    return SecureSecretsManager(key_source="passphrase")


@pytest.mark.slow
def test_passphrase_round_trip_and_stored_params(passphrase_manager, isolated_home) -> None:
    passphrase_manager.store_secret("db", "v1")
    assert passphrase_manager.retrieve_secret("db") == "v1"
    keyring = json.loads((data_dir(isolated_home) / "keyring.json").read_text())
    params = keyring["key_source"]["params"]
    assert keyring["key_source"]["name"] == "passphrase"
    assert params["kdf"] == "argon2id" and params["kdf_params"]["memory_kib"] >= 19 * 1024
    assert len(base64.b64decode(params["salt"])) == 16
    assert not (data_dir(isolated_home) / "master.key").exists()


@pytest.mark.slow
def test_each_keyring_gets_its_own_salt(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(PASSPHRASE_VAR, "same passphrase")
    salts = set()
    for store in ("a", "b"):
        manager = SecureSecretsManager(key_source="passphrase", data_dir=tmp_path / store)
        manager.store_secret("x", "v")
        salts.add(
            json.loads((tmp_path / store / "keyring.json").read_text())["key_source"]["params"][
                "salt"
            ]
        )
    assert len(salts) == 2


@pytest.mark.slow
def test_wrong_passphrase_is_a_typed_error_and_changes_nothing(
    passphrase_manager, monkeypatch, isolated_home
) -> None:
    passphrase_manager.store_secret("db", "v1")
    before = snapshot(isolated_home)
    monkeypatch.setenv(PASSPHRASE_VAR, "wrong horse")
    for call in (
        lambda m: m.retrieve_secret("db"),
        lambda m: m.store_secret("db", "v2"),
        lambda m: m.rotate_encryption_key(),
    ):
        with pytest.raises(KeyNotAvailableError, match="wrong key"):
            call(SecureSecretsManager(key_source="passphrase"))
    assert snapshot(isolated_home) == before


@pytest.mark.slow
def test_passphrases_are_nfc_normalised(monkeypatch) -> None:
    monkeypatch.setenv(PASSPHRASE_VAR, "caf\u00e9")  # precomposed é
    SecureSecretsManager(key_source="passphrase").store_secret("x", "v")
    monkeypatch.setenv(PASSPHRASE_VAR, "cafe\u0301")  # e + combining acute accent
    assert SecureSecretsManager(key_source="passphrase").retrieve_secret("x") == "v"


def test_empty_or_missing_passphrase_is_refused(monkeypatch, isolated_home) -> None:
    monkeypatch.setenv(PASSPHRASE_VAR, "")
    with pytest.raises(KeyNotAvailableError, match="empty passphrase"):
        SecureSecretsManager(key_source="passphrase").store_secret("x", "v")
    monkeypatch.delenv(PASSPHRASE_VAR)
    with pytest.raises(KeyNotAvailableError, match=PASSPHRASE_VAR):
        SecureSecretsManager(key_source="passphrase").store_secret("x", "v")
    assert not (data_dir(isolated_home) / "keyring.json").exists()


@pytest.mark.slow
def test_the_kdf_runs_once_per_process_per_key_source(passphrase_manager, monkeypatch) -> None:
    calls = []
    argon2id = kdf_class()
    real = argon2id.derive
    monkeypatch.setattr(argon2id, "derive", lambda self, *a: calls.append(1) or real(self, *a))
    passphrase_manager.store_secret("a", "1")
    for _ in range(20):
        passphrase_manager.retrieve_secret("a")
    other = SecureSecretsManager(key_source="passphrase")  # a second manager, same keyring
    other.store_secret("b", "2")
    assert other.retrieve_secret("a") == "1"
    assert len(calls) == 1


@pytest.mark.slow
def test_change_passphrase_rewraps_without_reencrypting(
    passphrase_manager, monkeypatch, isolated_home
) -> None:
    passphrase_manager.store_secret("db", "v1")
    store = data_dir(isolated_home) / "store"
    secrets_before = {p.name: p.read_bytes() for p in store.iterdir()}
    passphrase_manager.change_passphrase("a new passphrase")
    assert {p.name: p.read_bytes() for p in store.iterdir()} == secrets_before
    monkeypatch.setenv(PASSPHRASE_VAR, "a new passphrase")
    assert SecureSecretsManager(key_source="passphrase").retrieve_secret("db") == "v1"
    monkeypatch.setenv(PASSPHRASE_VAR, "correct horse battery staple")
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager(key_source="passphrase").retrieve_secret("db")


def test_change_key_source_from_keyfile_to_env(monkeypatch, isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db", b"\x00bytes")
    kek = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SECURE_SECRETS_KEK", kek)
    event = manager.change_key_source("env")
    assert event.details["key_source"] == "env" and kek not in event.to_json()
    assert SecureSecretsManager(key_source="env").retrieve_secret("db") == b"\x00bytes"


def test_replacing_the_key_file_in_place_is_refused() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db", "v")
    with pytest.raises(ConfigError, match="new path"):
        manager.change_key_source("keyfile")


def test_a_token_from_another_store_is_a_typed_error(tmp_path, isolated_home) -> None:
    other = SecureSecretsManager(data_dir=tmp_path / "other")
    other.store_secret("db", "other store")
    manager = SecureSecretsManager()
    manager.store_secret("db", "mine")
    manager.backend().write("db", other.read_stored("db"))  # the token, in a genuine record
    with pytest.raises(KeyNotAvailableError, match="not in the keyring"):
        SecureSecretsManager().retrieve_secret("db")
    foreign = next((tmp_path / "other" / "store").glob("*.secret"))
    mine = next((data_dir(isolated_home) / "store").glob("*.secret"))
    mine.write_bytes(foreign.read_bytes())  # the whole record: another keyring's record MAC
    with pytest.raises(IntegrityError, match="'db'.*fails authentication"):
        SecureSecretsManager().retrieve_secret("db")


def test_env_kek_of_the_wrong_size_or_encoding_is_refused(monkeypatch) -> None:
    for bad in (base64.b64encode(os.urandom(16)).decode(), "not base64 !!"):
        monkeypatch.setenv("SECURE_SECRETS_KEK", bad)
        with pytest.raises(KeyNotAvailableError, match="SECURE_SECRETS_KEK"):
            SecureSecretsManager(key_source="env").store_secret("x", "v")


@pytest.mark.parametrize(
    "tamper, error",
    [
        ({"memory_kib": 1024}, "below the floor"),
        ({"memory_kib": 64 * 1024 * 1024}, "above the ceiling"),
        ({"iterations": 10**9}, "above the ceiling"),
    ],
)
def test_hostile_kdf_params_in_the_keyring_are_refused_before_deriving(
    passphrase_manager, isolated_home, tamper, error, monkeypatch
) -> None:
    passphrase_manager.store_secret("db", "v1")
    path = data_dir(isolated_home) / "keyring.json"
    doc = json.loads(path.read_text())
    doc["key_source"]["params"]["kdf_params"].update(tamper)
    path.write_text(json.dumps(doc))
    before = snapshot(isolated_home)
    derived = []
    monkeypatch.setattr(kdf_class(), "derive", lambda *a: derived.append(1))
    with pytest.raises(ConfigError, match=error):
        SecureSecretsManager(key_source="passphrase").retrieve_secret("db")
    assert derived == [] and snapshot(isolated_home) == before


@pytest.mark.slow
def test_a_corrupt_salt_is_an_integrity_error(passphrase_manager, isolated_home) -> None:
    passphrase_manager.store_secret("db", "v1")
    path = data_dir(isolated_home) / "keyring.json"
    doc = json.loads(path.read_text())
    doc["key_source"]["params"]["salt"] = base64.b64encode(b"short").decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="salt"):
        SecureSecretsManager(key_source="passphrase").retrieve_secret("db")


@pytest.mark.slow
def test_a_passphrase_keyring_opened_with_the_keyfile_source_says_what_to_configure(
    passphrase_manager,
) -> None:
    passphrase_manager.store_secret("db", "v1")
    with pytest.raises(KeyNotAvailableError, match='key_source.name = "passphrase"'):
        SecureSecretsManager().retrieve_secret("db")


def test_the_passphrase_appears_in_no_log_repr_or_event(passphrase_manager, caplog) -> None:
    with caplog.at_level("DEBUG"):
        events = [
            passphrase_manager.store_secret("db", "v1"),
            passphrase_manager.rotate_encryption_key(),
        ]
        passphrase_manager.retrieve_secret("db")
    source = passphrase_manager.assembly.key_manager()._source
    text = caplog.text + repr(passphrase_manager) + repr(source) + str(vars(source))
    text += "".join(event.to_json() for event in events)
    assert "correct horse" not in text


def test_a_container_needs_only_variables(monkeypatch, isolated_home, tmp_path) -> None:
    """Key and keyring both as variables: no file from the store's data dir is needed."""
    kek = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SECURE_SECRETS_KEK", kek)
    SecureSecretsManager(key_source="env").store_secret("db", "v1")
    keyring = (data_dir(isolated_home) / "keyring.json").read_text()
    store = data_dir(isolated_home) / "store"
    monkeypatch.setenv("SECURE_SECRETS_KEYRING", keyring)
    elsewhere = SecureSecretsManager(key_source="env", data_dir=tmp_path / "container")
    elsewhere_store = tmp_path / "container" / "store"
    elsewhere_store.mkdir(parents=True, mode=0o700)
    for path in store.glob("*.secret"):
        (elsewhere_store / path.name).write_bytes(path.read_bytes())
        (elsewhere_store / path.name).chmod(0o600)
    assert elsewhere.retrieve_secret("db") == "v1"
    assert not (tmp_path / "container" / "keyring.json").exists()
    with pytest.raises(ConfigError, match="SECURE_SECRETS_KEYRING and is read-only"):
        elsewhere.rotate_encryption_key()
