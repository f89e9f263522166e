"""keyring's error types where keyring expects them, an audit event for every access, and no
credential in any message, log line or file in clear."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from keyring import errors
from secure_secrets_keyring_backend import SecureSecretsKeyring, secret_name

from secrets_core.testing.leaks import all_text_of
from secure_secrets import SecureSecretsManager

SERVICE = "https://pypi.example.com/simple/"
# Frames whose locals a traceback may show: the library's and this backend's (not the tests').
OUR_FRAMES = ("/secrets_core/", "/secure_secrets/", "/plugins/", "/secure_secrets_keyring_backend/")
LONG_SERVICE = "https://artifacts.example.com/" + "x" * 120 + "/simple/"


def test_every_access_is_audited_with_the_calling_process_as_actor(audit_events: Any) -> None:
    ring = SecureSecretsKeyring()
    ring.set_password(SERVICE, "alice", "pw-1")
    assert ring.get_password(SERVICE, "alice") == "pw-1"
    assert ring.get_password(SERVICE, "bob") is None
    credential = ring.get_credential(SERVICE, None)
    assert credential is not None and (credential.username, credential.password) == (
        "alice",
        "pw-1",
    )
    ring.delete_password(SERVICE, "alice")
    with pytest.raises(errors.PasswordDeleteError):
        ring.delete_password(SERVICE, "alice")

    alice, bob = secret_name(SERVICE, "alice"), secret_name(SERVICE, "bob")
    seen = [(e["operation"], e["secret_name"], e["outcome"]) for e in audit_events()]
    assert seen == [
        ("store", alice, "success"),
        ("retrieve", alice, "success"),
        ("retrieve", bob, "failure"),
        ("list", None, "success"),
        ("retrieve", alice, "success"),
        ("purge", alice, "success"),
        ("purge", alice, "failure"),
    ]
    assert {e["actor"]["pid"] for e in audit_events()} == {os.getpid()}  # type: ignore[index]


def test_a_deleted_password_is_destroyed_not_restorable() -> None:
    ring = SecureSecretsKeyring()
    ring.set_password(SERVICE, "alice", "pw-1")
    ring.delete_password(SERVICE, "alice")
    manager = SecureSecretsManager()
    with pytest.raises(KeyError):
        manager.restore_secret(secret_name(SERVICE, "alice"))


def test_a_pair_too_long_for_a_name_is_refused_with_keyrings_errors() -> None:
    ring = SecureSecretsKeyring()
    with pytest.raises(errors.PasswordSetError, match="too long together") as raised:
        ring.set_password(LONG_SERVICE, "alice", "pw-1")
    assert LONG_SERVICE not in str(raised.value)
    assert ring.get_password(LONG_SERVICE, "alice") is None
    assert ring.get_credential(LONG_SERVICE, None) is None
    with pytest.raises(errors.PasswordDeleteError):
        ring.delete_password(LONG_SERVICE, "alice")


def test_a_bad_configuration_is_a_keyring_error_of_each_call(tmp_path: Path) -> None:
    ring = SecureSecretsKeyring().with_properties(config_path=str(tmp_path / "missing.toml"))
    with pytest.raises(errors.KeyringError, match="ConfigError"):
        ring.get_password(SERVICE, "alice")
    with pytest.raises(errors.PasswordSetError, match="ConfigError"):
        ring.set_password(SERVICE, "alice", "pw-1")
    with pytest.raises(errors.PasswordDeleteError, match="ConfigError"):
        ring.delete_password(SERVICE, "alice")


def test_keys_that_cannot_be_unlocked_are_keyring_locked() -> None:
    ring = SecureSecretsKeyring()
    ring.set_password(SERVICE, "alice", "pw-1")
    (ring.manager.settings.data_dir / "master.key").unlink()
    with pytest.raises(errors.KeyringLocked, match="KeyNotAvailableError"):
        SecureSecretsKeyring().get_password(SERVICE, "alice")


def test_properties_select_the_backend_and_override_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECURE_SECRETS_BACKEND", "vault")  # not configured: would fail
    monkeypatch.setenv("KEYRING_PROPERTY_BACKEND", "file")
    ring = SecureSecretsKeyring()
    ring.set_password(SERVICE, "alice", "pw-1")
    assert ring.manager.default_backend == "file"
    assert ring.get_password(SERVICE, "alice") == "pw-1"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_credential_in_any_message_log_or_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{uuid.uuid4().hex}"
    token = f"token-{uuid.uuid4().hex}"
    messages: list[str] = []
    ring = SecureSecretsKeyring()
    ring.set_password(SERVICE, "alice", canary)
    assert ring.get_password(SERVICE, "alice") == canary
    for call in (
        lambda: ring.set_password(LONG_SERVICE, "alice", canary),
        lambda: ring.set_password(SERVICE, "alice", canary.encode()),  # type: ignore[arg-type]
        lambda: ring.delete_password(SERVICE, "nobody"),
    ):
        with pytest.raises(errors.KeyringError) as raised:
            call()
        messages.append(all_text_of(raised.value, OUR_FRAMES))
    # An unreachable Vault, its token given by variable: the failure names neither.
    config = tmp_path / "down.toml"
    config.write_text(
        f'default_backend = "vault"\n[backends.vault]\nvault_url = "http://127.0.0.1:{closed_port()}"\n'
        'vault_token = { env = "CANARY_TOKEN" }\nmax_retries = 0\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CANARY_TOKEN", token)
    down = ring.with_properties(config_path=str(config))
    for call in (
        lambda: down.set_password(SERVICE, "alice", canary),
        lambda: down.get_password(SERVICE, "alice"),
        lambda: down.get_credential(SERVICE, None),
    ):
        with pytest.raises(errors.KeyringError) as raised:
            call()
        assert raised.value.__cause__ is None and raised.value.__suppress_context__
        messages.append(all_text_of(raised.value, OUR_FRAMES))
    assert len(messages) == 6
    for text in [*messages, caplog.text]:
        assert canary not in text and token not in text
    home = Path(os.environ["XDG_DATA_HOME"]).parent
    for file in home.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert canary.encode() not in data and token.encode() not in data, file


def test_its_own_key_in_itself_is_refused_not_recursed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The os-keyring key source asks keyring's default backend for secure-secrets' key; when
    that default is this backend, the call is refused with what to do instead."""
    import keyring.core

    config = tmp_path / "config.toml"
    config.write_text('[key_source]\nname = "os-keyring"\n', encoding="utf-8")
    ring = SecureSecretsKeyring().with_properties(config_path=str(config))
    monkeypatch.setattr(keyring.core, "_keyring_backend", ring)
    with pytest.raises(errors.PasswordSetError, match=r"\[key_source\] backend"):
        ring.set_password(SERVICE, "alice", "pw-1")
    config.write_text(
        '[key_source]\nname = "os-keyring"\nbackend = "keyrings.alt.file.PlaintextKeyring"\n',
        encoding="utf-8",
    )
    fixed = SecureSecretsKeyring().with_properties(config_path=str(config))
    fixed.set_password(SERVICE, "alice", "pw-1")
    assert fixed.get_password(SERVICE, "alice") == "pw-1"


def test_a_bytes_value_is_text_when_it_decodes_else_an_error_without_it() -> None:
    manager = SecureSecretsManager()
    manager.store_secret(secret_name(SERVICE, "utf8"), "pässwort".encode())
    manager.store_secret(secret_name(SERVICE, "binary"), b"\xffcanary-binary")
    ring = SecureSecretsKeyring()
    assert ring.get_password(SERVICE, "utf8") == "pässwort"
    with pytest.raises(errors.KeyringError, match="not UTF-8") as raised:
        ring.get_password(SERVICE, "binary")
    assert "canary-binary" not in all_text_of(raised.value, OUR_FRAMES)
