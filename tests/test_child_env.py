"""secrets_core.child_env: the variables and environment of a child process."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from secrets_core.child_env import child_environment, child_variable_name
from secrets_core.errors import ConfigError, InvalidSecretValueError
from secure_secrets import SecureSecretsManager

CANARY = "CANARY-envapi-91c2-must-never-be-shown"
VALUES = {"db/password": CANARY, "api_key": "multi\nline ✓", "DATABASE_URL": "postgres://u@h/db"}


@pytest.fixture
def kek(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SECURE_SECRETS_KEK", key)
    return key


def populated(**kwargs: object) -> SecureSecretsManager:
    manager = SecureSecretsManager(**kwargs)  # type: ignore[arg-type]
    for name, value in VALUES.items():
        manager.store_secret(name, value)
    return manager


@pytest.mark.slow
def test_child_environment_decrypts_without_touching_os_environ(kek: str) -> None:
    manager = populated(key_source="env")
    before = dict(os.environ)
    env = child_environment(manager, ["DATABASE_URL", "db/password"])
    assert dict(os.environ) == before, "os.environ of the parent must not change"
    assert env["DATABASE_URL"] == "postgres://u@h/db"
    assert env["DB_PASSWORD"] == CANARY
    assert "SECURE_SECRETS_KEK" not in env, "the key is not handed to children"
    assert env["PATH"] == os.environ["PATH"], "the rest of the environment is inherited"
    assert CANARY not in "".join(os.environ.values())
    result = subprocess.run(
        [sys.executable, "-c", f"import os; print(os.environ['DB_PASSWORD'] == {CANARY!r})"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "True"


def test_child_environment_mapping_prefix_base_and_all_names(kek: str) -> None:
    manager = populated(key_source="env")
    env = child_environment(manager, {"db/password": "PGPASSWORD"}, base={"ONLY": "this"})
    assert env == {"ONLY": "this", "PGPASSWORD": CANARY}
    env = child_environment(manager, None, base={})
    assert env == {
        "DATABASE_URL": VALUES["DATABASE_URL"],
        "API_KEY": VALUES["api_key"],
        "DB_PASSWORD": CANARY,
    }
    manager.store_secret("app/db/password", "app pw")
    manager.store_secret("app/api-key.v2", "k2")
    env = child_environment(manager, None, prefix="app/", base={})
    assert env == {"DB_PASSWORD": "app pw", "API_KEY_V2": "k2"}, "only app/, prefix dropped"


def test_child_variable_names() -> None:
    assert child_variable_name("DATABASE_URL") == "DATABASE_URL"
    assert child_variable_name("billing/stripe-key.v2") == "BILLING_STRIPE_KEY_V2"
    assert child_variable_name("9lives") == "_9LIVES"
    assert child_variable_name("app/db/password", "app/") == "DB_PASSWORD"
    assert child_variable_name("app/db", "app") == "DB"
    assert child_variable_name("other/db", "app/") == "OTHER_DB"
    with pytest.raises(ConfigError, match="prefix itself"):
        child_variable_name("app", "app")


def test_child_environment_refuses_collisions_naming_both(kek: str) -> None:
    manager = SecureSecretsManager(key_source="env")
    manager.store_secret("a/b", "1")
    manager.store_secret("a_b", "2")
    manager.store_secret("Key", "3")
    manager.store_secret("key", "4")
    with pytest.raises(ConfigError, match="'a/b' and 'a_b'.*A_B"):
        child_environment(manager, ["a/b", "a_b"], base={})
    with pytest.raises(ConfigError, match="'Key' and 'key'"):
        child_environment(manager, ["Key", "key"], base={})
    assert child_environment(manager, {"a/b": "A_SLASH_B", "a_b": "A_B"}, base={}) == {
        "A_SLASH_B": "1",
        "A_B": "2",
    }
    with pytest.raises(ConfigError):
        child_environment(manager, {"a/b": "BAD=NAME"}, base={})


def test_child_environment_refuses_values_an_environment_cannot_hold(kek: str) -> None:
    manager = SecureSecretsManager(key_source="env")
    manager.store_secret("binary", b"\xff\xfe" + CANARY.encode())
    manager.store_secret("nul", "a\0b")
    manager.store_secret("utf8_bytes", CANARY.encode())
    with pytest.raises(InvalidSecretValueError, match="binary") as info:
        child_environment(manager, ["binary"], base={})
    assert CANARY not in str(info.value) and info.value.__context__ is None
    with pytest.raises(InvalidSecretValueError, match="NUL"):
        child_environment(manager, ["nul"], base={})
    assert child_environment(manager, ["utf8_bytes"], base={}) == {"UTF8_BYTES": CANARY}
