"""Issue 16: a data key leaves the keyring only when no ciphertext in any store needs it.

The keyring's ledger of stores records every store that has sealed a value with it; rotation
covers them all (the zero-config file store too, whatever the default backend), keeps the old
keys when one is blocked, and re-checks a "not found" from a rewrite before counting a secret
as gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from secrets_core import builtin, hookimpl
from secrets_core.cli.app import cli
from secrets_core.errors import BackendUnavailableError as RotationIncompleteError
from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin import BackendSpec, PluginContext, PluginRegistry, get_registry
from secure_secrets import SecureSecretsManager


def keyring(home: Path) -> dict[str, Any]:
    return json.loads((home / "data" / "secure-secrets" / "keyring.json").read_text())


def test_zero_config_file_store_survives_two_rotations_with_an_env_default(isolated_home) -> None:
    SecureSecretsManager().store_secret("app/db", "placeholder-db")
    rotator = SecureSecretsManager(default_backend="env")
    rotator.rotate_encryption_key()
    second = rotator.rotate_encryption_key()
    assert second.details["backends"]["file"]["rotated"] == 1
    assert SecureSecretsManager().retrieve_secret("app/db") == "placeholder-db"


def test_cli_backend_env_rotate_key_twice_keeps_the_file_secret(isolated_home) -> None:
    runner = CliRunner()

    def run(*args: str, code: int = 0, input: str | None = None) -> str:
        result = runner.invoke(
            cli, list(args), input=input, catch_exceptions=False, prog_name="secure-secrets"
        )
        assert result.exit_code == code, (result.output, result.stderr)
        return result.output

    run("init", "--key-source", "keyfile")
    run("set", "app/db", input="placeholder-db")
    run("--backend", "env", "rotate-key")
    out = run("--backend", "env", "rotate-key")
    assert "file: 1 re-encrypted" in out
    assert run("get", "app/db").strip() == "placeholder-db"


# --- a backend that skips soft-deleted secrets in rewrite_versions ---------------------------


class SkipsDeleted:
    """The file backend, except that rewrite_versions says "not found" for a soft-deleted
    secret (a plausible bug: it looks the name up among the live ones only)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def rewrite_versions(self, name: str, transform: Any) -> int:
        if name in self.inner.list_deleted(""):
            raise SecretNotFoundError(f"secret '{name}' not found")
        return int(self.inner.rewrite_versions(name, transform))


class SkipsDeletedPlugin:
    @hookimpl
    def secrets_register_backends(self) -> list[BackendSpec]:
        file_spec = get_registry().backend("file")

        def factory(options: dict[str, Any], context: PluginContext) -> SkipsDeleted:
            return SkipsDeleted(file_spec.factory(options, context))

        return [
            BackendSpec(
                name="skipsdeleted",
                factory=factory,
                capabilities=file_spec.capabilities,
                options=file_spec.options,
            )
        ]


def test_a_not_found_from_rewrite_for_a_listed_secret_keeps_the_old_key(isolated_home) -> None:
    registry = PluginRegistry(internal=[("core", builtin), ("skips-test", SkipsDeletedPlugin())])

    def manager() -> SecureSecretsManager:
        return SecureSecretsManager(default_backend="skipsdeleted", registry=registry)

    m = manager()
    m.store_secret("app/live", "placeholder-live")
    m.store_secret("app/gone", "placeholder-gone")
    m.delete_secret("app/gone")
    old = keyring(isolated_home)["primary"]
    for _ in range(2):
        with pytest.raises(RotationIncompleteError) as info:
            manager().rotate_encryption_key(keep_old_keys=0)
        assert "app/gone" in str(info.value) and "skipsdeleted" in str(info.value)
        assert "rotate-key" in str(info.value)
    assert old in {k["id"] for k in keyring(isolated_home)["keys"]}, "the old key is kept"
    m = manager()
    m.restore_secret("app/gone")
    assert m.retrieve_secret("app/gone") == "placeholder-gone"
    assert m.retrieve_secret("app/live") == "placeholder-live"
