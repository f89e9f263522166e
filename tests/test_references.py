"""Secret references (secrets_core.references): strict parsing, the escape for plain data,
resolving one value or a whole mapping through one manager per profile, audited per secret."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from secrets_core.errors import (
    AccessDeniedError,
    InvalidReferenceError,
    PluginNotFoundError,
    SecretNotFoundError,
    UnresolvedReferencesError,
)
from secrets_core.keys import KeyManager
from secrets_core.references import unescape
from secure_secrets import (
    ReferenceResolver,
    SecretReference,
    SecureSecretsManager,
    escape_reference,
    is_reference,
    parse_reference,
    resolve_reference,
    resolve_references,
)

CANARY = "canary-ref-7f3a-do-not-print"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ss:db_password", SecretReference("db_password")),
        ("ss:app/db.password-2", SecretReference("app/db.password-2")),
        ("ss://vault/app/db_password?version=3", SecretReference("app/db_password", "vault", 3)),
        ("ss://file/db?profile=prod", SecretReference("db", "file", None, "prod")),
        ("SS:db?profile=prod&version=12", SecretReference("db", None, 12, "prod")),
        ("ss://my-backend_2/x", SecretReference("x", "my-backend_2")),
    ],
)
def test_valid_references_parse_and_print_back(text: str, expected: SecretReference) -> None:
    reference = parse_reference(text)
    assert reference == expected
    assert parse_reference(str(reference)) == reference


@pytest.mark.parametrize(
    "text",
    [
        "ss:",  # no name
        "ss://vault",  # no name after the backend
        "ss://vault/",  # empty name
        "ss:///db",  # empty backend
        "ss://Vault/db",  # backend names are lower case
        "ss:../etc/passwd",  # not a secret name
        "ss:a//b",
        "ss:db password",
        "ss:db?version=0",  # bad versions
        "ss:db?version=-1",
        "ss:db?version=1.5",
        "ss:db?version=abc",
        "ss:db?version=",
        "ss:db?version=01",
        "ss:db?version=3&version=4",  # duplicate parameter
        f"ss:db?{CANARY}=red",  # unknown parameter (its name is part of the value)
        "ss:db?",  # empty query
        "ss:db?version",
        "ss:db?profile=../x",
        "ss:db#frag",
        "ss:db%2Fx",  # no percent-encoding: names never need it
        f"ss:{CANARY} with spaces",
    ],
)
def test_malformed_references_raise_naming_the_variable_not_the_value(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text, "DB_PASSWORD")
    message = str(info.value)
    assert "$DB_PASSWORD" in message and "malformed secret reference" in message
    assert CANARY not in message
    if len(text) > 5:
        assert text not in message


def test_plain_data_is_not_a_reference_and_the_escape_round_trips() -> None:
    assert not is_reference("postgres://ss:pw@host")  # 'ss:' not at the start
    assert not is_reference(r"\ss://not/a/reference")
    assert is_reference("Ss:db")
    for plain in ("ss://shadowsocks-url", "SS:upper", r"\ss:x", r"\\ss:x", "plain", r"\n"):
        escaped = escape_reference(plain)
        assert not is_reference(escaped)
        assert unescape(escaped) == plain
    assert unescape(r"\ss://literal") == "ss://literal"
    assert unescape(r"\plain") == r"\plain"  # only the escape of 'ss:' loses its backslash


def test_resolve_one_reference_default_and_named_backend_and_version() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("app/db", "v1")
    manager.store_secret("app/db", CANARY)
    manager.store_secret("raw", b"\x00\x01")
    assert resolve_reference("ss:app/db", manager) == CANARY
    assert resolve_reference("ss://file/app/db", manager) == CANARY
    assert resolve_reference("ss:app/db?version=1", manager) == "v1"
    assert resolve_reference("ss:raw", manager) == b"\x00\x01"  # bytes stay bytes
    assert resolve_reference(r"\ss:app/db", manager) == "ss:app/db"  # escaped plain data
    assert resolve_reference("plain", manager) == "plain"


def test_bad_input_gives_typed_errors() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db", CANARY)
    with pytest.raises(SecretNotFoundError):
        resolve_reference("ss:missing", manager)
    with pytest.raises(PluginNotFoundError):
        resolve_reference("ss://no-such-backend/db", manager)
    with pytest.raises(SecretNotFoundError):  # a version that does not exist
        resolve_reference("ss:db?version=9", manager)
    with pytest.raises(InvalidReferenceError):
        resolve_reference("ss:db?version=x", manager)


def test_mapping_is_resolved_with_one_unlock_and_failures_listed_by_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = SecureSecretsManager()
    for i in range(5):
        manager.store_secret(f"app/s{i}", f"{CANARY}-{i}")
    manager.close()
    built: list[object] = []
    real_init = KeyManager.__init__

    def counting_init(self: object, *args: object, **kwargs: object) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(KeyManager, "__init__", counting_init)
    mapping = {f"S{i}": f"ss:app/s{i}" for i in range(5)}
    mapping |= {"PLAIN": "hello", "ESCAPED": r"\ss:app/s0"}
    resolved = resolve_references(mapping, SecureSecretsManager())
    assert resolved == {
        **{f"S{i}": f"{CANARY}-{i}" for i in range(5)},
        "PLAIN": "hello",
        "ESCAPED": "ss:app/s0",
    }
    assert len(built) == 1  # one keyring, unlocked once for the whole mapping

    bad = {"GOOD": "ss:app/s0", "MISSING": "ss:nope", "UNKNOWN": "ss://nowhere/x", "OK": "x"}
    with pytest.raises(UnresolvedReferencesError) as info:
        resolve_references(bad, SecureSecretsManager())
    assert set(info.value.failures) == {"MISSING", "UNKNOWN"}
    message = str(info.value)
    assert "$MISSING: SecretNotFoundError" in message and "$UNKNOWN: PluginNotFoundError" in message
    assert CANARY not in message and "$GOOD" not in message
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == message


def test_a_malformed_reference_stops_the_whole_mapping_before_any_read() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db", CANARY)
    log = manager.settings.log_dir / "audit.jsonl"
    before = log.read_text().count("retrieve") if log.exists() else 0
    with pytest.raises(UnresolvedReferencesError) as info:
        resolve_references({"A": "ss:db", "B": "ss:db?version=x"}, manager)
    assert list(info.value.failures) == ["B"]
    assert isinstance(info.value.failures["B"], InvalidReferenceError)
    after = log.read_text().count("retrieve") if log.exists() else 0
    assert after == before


def test_each_resolved_secret_is_audited_without_its_value() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", CANARY)
    manager.store_secret("b", CANARY + "b")
    resolve_references({"A": "ss:a", "B": "ss:b?version=1"}, manager)
    log = manager.settings.log_dir / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    reads = [(e["secret_name"], e["outcome"]) for e in events if e["operation"] == "retrieve"]
    assert reads == [("a", "success"), ("b", "success")]
    assert CANARY not in log.read_text()


def test_profiles_are_refused_unless_allowed(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.dev]\n[profiles.prod]\n")
    SecureSecretsManager(config_path=config, profile="prod").store_secret("db", "prod-value")
    SecureSecretsManager(config_path=config, profile="dev").store_secret("db", "dev-value")
    dev = SecureSecretsManager(config_path=config, profile="dev")
    assert resolve_reference("ss:db", dev) == "dev-value"
    assert resolve_reference("ss:db?profile=dev", dev) == "dev-value"
    with pytest.raises(UnresolvedReferencesError) as info:
        resolve_references({"DB": "ss:db?profile=prod"}, dev)
    refused = info.value.failures["DB"]
    assert isinstance(refused, AccessDeniedError)
    assert "'prod'" in str(refused) and "--allow-profile prod" in str(refused)
    with ReferenceResolver(dev, allow_profiles=["prod"]) as resolver:
        both = resolver.resolve_mapping(
            {"P": "ss:db?profile=prod", "D": "ss:db", "Q": "ss:db?profile=prod"}
        )
        assert both == {"P": "prod-value", "D": "dev-value", "Q": "prod-value"}
        assert len(resolver._managers) == 2  # one manager per profile, reused
