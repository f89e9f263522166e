"""Leak canary: a sentinel value goes through every API and error path with DEBUG logging;
it must never appear in logs, audit logs, files other than ciphertext, reprs, pickles,
exception chains or traceback locals."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secrets_core.testing.leaks import all_text_of
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretsError

CANARY = "CANARY-7f3a9-do-not-leak"
PASSPHRASE = "CANARY-PASSPHRASE-41c2"


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def manager(monkeypatch: pytest.MonkeyPatch) -> SecureSecretsManager:
    monkeypatch.setenv("SECURE_SECRETS_PASSPHRASE", PASSPHRASE)
    return SecureSecretsManager(key_source="passphrase", audit_sinks=["jsonl", "logging"])


def operations(manager: SecureSecretsManager) -> list[Callable[[], object]]:
    """Every call, the failing ones included, each fed the canary where a value goes."""
    handle = manager.scoped("canary/", read_only=True)
    return [
        lambda: manager.store_secret("canary/value", CANARY),
        lambda: manager.store_secret("canary/bytes", CANARY.encode()),
        lambda: manager.retrieve_secret("canary/value"),
        lambda: manager.retrieve_secret("canary/value", version=1),
        lambda: manager.secret_metadata("canary/value"),
        lambda: manager.list_secrets("canary/"),
        lambda: manager.rotate_encryption_key(),
        lambda: handle.retrieve_secret("canary/value"),
        lambda: handle.store_secret("canary/value", CANARY),  # denied
        lambda: manager.store_secret("canary/../x", CANARY),  # invalid name
        lambda: manager.store_secret("canary/typed", [CANARY]),  # invalid value type
        lambda: manager.store_secret("canary/x", CANARY, backend_type="vault"),  # unavailable
        lambda: manager.store_secret("canary/x", CANARY, backend_type="nope"),  # not installed
        lambda: manager.retrieve_secret("canary/missing"),
        lambda: manager.change_passphrase(PASSPHRASE + "-2"),
        lambda: manager.delete_secret("canary/bytes"),
        lambda: manager.restore_secret("canary/bytes"),
        lambda: manager.purge_secret("canary/bytes"),
    ]


def test_the_canary_never_leaks(manager, isolated_home, caplog, capfd) -> None:
    outputs: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for call in operations(manager):
            try:
                result = call()
            except SecretsError as exc:
                outputs.append(all_text_of(exc))
            else:
                if result not in (CANARY, CANARY.encode()):
                    outputs.append(repr(result))
        tampered = next((isolated_home / "data").rglob("*.secret"))
        data = bytearray(tampered.read_bytes())
        data[-3] ^= 0x01
        tampered.write_bytes(bytes(data))
        for name in ("canary/value", "canary/bytes"):
            try:
                manager.retrieve_secret(name)
            except SecretsError as exc:
                outputs.append(all_text_of(exc))
    outputs += [caplog.text, repr(manager), repr(manager.settings)]
    outputs.append(repr(manager.assembly.key_manager()))
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err]
    for text in outputs:
        assert CANARY not in text
        assert PASSPHRASE not in text
    for path in files_under(isolated_home):
        content = path.read_bytes()
        assert CANARY.encode() not in content, f"{path} holds the value in clear"
        assert PASSPHRASE.encode() not in content, f"{path} holds the passphrase"


def test_our_objects_do_not_pickle_or_print_values(manager) -> None:
    from secrets_core.secret import SecretValue

    secret = SecretValue(CANARY)
    assert CANARY not in repr(secret) and CANARY not in str(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    event = manager.store_secret("canary/value", CANARY)
    assert CANARY not in pickle.dumps(event).decode("latin-1")
    assert CANARY not in event.to_json()
