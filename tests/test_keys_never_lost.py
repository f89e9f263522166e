"""Issue 16: a data key leaves the keyring only when no ciphertext in any store needs it.

The keyring's ledger of stores records every store that has sealed a value with it; rotation
covers them all (the zero-config file store too, whatever the default backend), keeps the old
keys when one is blocked, and re-checks a "not found" from a rewrite before counting a secret
as gone.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from secrets_core import builtin, hookimpl
from secrets_core.cli.app import cli
from secrets_core.errors import (
    IntegrityError,
    KeyNotAvailableError,
    KeyringRollbackError,
    RotationIncompleteError,
    SecretNotFoundError,
)
from secrets_core.plugin import BackendSpec, PluginContext, PluginRegistry, get_registry
from secure_secrets import SecureSecretsManager
from tests.test_crash_suite import bao  # noqa: F401  (a real OpenBao dev server)


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
        file_spec = get_registry().get(BackendSpec, "file")

        def factory(options: dict[str, Any], context: PluginContext) -> SkipsDeleted:
            return SkipsDeleted(file_spec.make(options, context))

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


# --- stores the rotation must reach, or keep the old keys for -------------------------------


class AltFilePlugin:
    """``altfile``: the file backend under another name (a third-party store plugin)."""

    @hookimpl
    def secrets_register_backends(self) -> list[BackendSpec]:
        file_spec = get_registry().get(BackendSpec, "file")
        return [file_spec._replace(name="altfile")]


def test_a_recorded_store_whose_plugin_is_uninstalled_blocks_retirement(
    isolated_home, tmp_path
) -> None:
    with_plugin = PluginRegistry(internal=[("core", builtin), ("alt-test", AltFilePlugin())])
    backends = {"altfile": {"path": str(tmp_path / "alt")}}
    SecureSecretsManager(default_backend="altfile", backends=backends, registry=with_plugin)
    alt = SecureSecretsManager(default_backend="altfile", backends=backends, registry=with_plugin)
    alt.store_secret("third/party", "placeholder-alt")
    SecureSecretsManager().store_secret("local/one", "placeholder-local")
    old = keyring(isolated_home)["primary"]
    for _ in range(2):  # the plugin is gone (not in the default registry): blocked each time
        with pytest.raises(RotationIncompleteError) as info:
            SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
        assert "'altfile'" in str(info.value) and "rotate-key" in str(info.value)
        assert old in {k["id"] for k in keyring(isolated_home)["keys"]}
    assert SecureSecretsManager().rotation_pending() is not None
    assert SecureSecretsManager().retrieve_secret("local/one") == "placeholder-local"
    # Reinstalled (even unconfigured: the ledger holds its path), the rotation resumes.
    event = SecureSecretsManager(registry=with_plugin).rotate_encryption_key(keep_old_keys=0)
    assert event.details["resumed"] is True and old in event.details["retired_key_ids"]
    assert event.details["backends"]["altfile"]["rotated"] == 1
    assert alt.retrieve_secret("third/party") == "placeholder-alt"


def test_a_file_store_moved_in_the_config_is_still_rotated(isolated_home, tmp_path) -> None:
    first = {"file": {"path": str(tmp_path / "first")}}
    SecureSecretsManager(backends=first).store_secret("app/first", "placeholder-first")
    second = {"file": {"path": str(tmp_path / "second")}}
    for _ in range(2):
        SecureSecretsManager(backends=second).rotate_encryption_key(keep_old_keys=0)
    assert SecureSecretsManager(backends=first).retrieve_secret("app/first") == "placeholder-first"


def test_an_edited_ledger_of_stores_is_an_integrity_error(isolated_home) -> None:
    SecureSecretsManager().store_secret("app/a", "placeholder-a")
    path = isolated_home / "data" / "secure-secrets" / "keyring.json"
    doc = json.loads(path.read_text())
    assert [entry["backend"] for entry in doc["stores"]] == ["file"]
    doc["stores"] = []  # hide the store from rotation
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="ledger of stores"):
        SecureSecretsManager().rotate_encryption_key()
    with pytest.raises(IntegrityError, match="ledger of stores"):
        SecureSecretsManager().store_secret("app/b", "placeholder-b")
    assert SecureSecretsManager().retrieve_secret("app/a") == "placeholder-a"  # get: untouched


def test_the_ledger_is_checked_once_per_store_per_process(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("app/a", "placeholder-a")
    path = manager.keyring_path
    before = path.stat().st_mtime_ns
    for i in range(5):
        manager.store_secret(f"app/{i}", "placeholder")
    assert path.stat().st_mtime_ns == before, "later writes do not touch the keyring"
    assert manager.assembly.ledger.recorded("file")


@pytest.mark.slow
def test_a_vault_store_stopped_mid_rotation_keeps_the_old_key_and_resume_finishes(
    isolated_home,
    bao,  # noqa: F811
) -> None:
    mount = f"keys-{uuid.uuid4().hex[:8]}"
    bao.admin().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    backends = {"vault-envelope": bao.options(mount_point=mount, max_retries=0, timeout=1)}

    def on_vault() -> SecureSecretsManager:
        return SecureSecretsManager(default_backend="vault-envelope", backends=backends)

    SecureSecretsManager().store_secret("local/a", "placeholder-local")  # zero-config file
    values = {f"remote/{i}": f"placeholder-{i}" for i in range(6)}
    for name, value in values.items():
        on_vault().store_secret(name, value)
    old = keyring(isolated_home)["primary"]

    def progress(label: str, done: int, total: int) -> None:
        if label == "vault-envelope" and done == 2:
            os.kill(bao.process.pid, signal.SIGSTOP)  # the server hangs mid-rotation

    try:
        with pytest.raises(RotationIncompleteError) as info:
            on_vault().rotate_encryption_key(progress=progress, keep_old_keys=0)
    finally:
        os.kill(bao.process.pid, signal.SIGCONT)
    assert "'vault-envelope'" in str(info.value) and "rotate-key" in str(info.value)
    assert old in {k["id"] for k in keyring(isolated_home)["keys"]}, "no key retired"
    event = on_vault().rotate_encryption_key(keep_old_keys=0)
    assert event.details["resumed"] is True and event.details["retired_key_ids"] == [old]
    assert {k["id"] for k in keyring(isolated_home)["keys"]} == {event.details["new_key_id"]}
    for name, value in values.items():
        assert on_vault().retrieve_secret(name) == value
    assert SecureSecretsManager().retrieve_secret("local/a") == "placeholder-local"


# --- a key change protects the future -------------------------------------------------------


@pytest.mark.parametrize("rotate", [False, True])
def test_an_old_keyring_backup_does_not_open_what_was_stored_after_a_key_change(
    isolated_home, tmp_path, rotate
) -> None:
    data = isolated_home / "data" / "secure-secrets"
    manager = SecureSecretsManager()
    manager.store_secret("app/before", "placeholder-before")
    backup = {name: (data / name).read_bytes() for name in ("keyring.json", "master.key")}
    event = manager.change_key_source("keyfile", {"path": str(tmp_path / "new.key")}, rotate=rotate)
    assert event.details["new_key_id"] in manager.key_ids()
    after = SecureSecretsManager(key_source="keyfile")
    after.settings.key_source_options["path"] = str(tmp_path / "new.key")
    after.store_secret("app/after", "placeholder-after")
    assert after.retrieve_secret("app/before") == "placeholder-before"
    current = (data / "keyring.json").read_bytes()
    (data / "keyring.json").write_bytes(backup["keyring.json"])  # the old backup, old KEK
    old = SecureSecretsManager()
    with pytest.raises(KeyNotAvailableError, match="'app/after'"):
        old.retrieve_secret("app/after")
    if rotate:  # re-encrypted and the old keys retired: the backup opens nothing
        with pytest.raises(KeyNotAvailableError, match="'app/before'"):
            old.retrieve_secret("app/before")
    else:  # what was stored before the change is still under a key the backup holds
        assert old.retrieve_secret("app/before") == "placeholder-before"
    (data / "keyring.json").write_bytes(current)


# --- a keyring rolled back is noticed -------------------------------------------------------


def test_a_write_with_a_keyring_from_before_a_rotation_is_refused(isolated_home) -> None:
    path = isolated_home / "data" / "secure-secrets" / "keyring.json"
    SecureSecretsManager().store_secret("app/a", "placeholder-a")
    backup = path.read_bytes()
    SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    current = path.read_bytes()
    path.write_bytes(backup)  # a backup restored after the rotation
    with pytest.raises(KeyringRollbackError, match="older keyring.json was put back"):
        SecureSecretsManager().store_secret("app/new", "placeholder-new")
    path.write_bytes(current)
    manager = SecureSecretsManager()
    manager.store_secret("app/new", "placeholder-new")
    assert manager.retrieve_secret("app/a") == "placeholder-a"


def test_a_write_over_a_token_under_a_key_the_keyring_does_not_know_is_refused(
    isolated_home, tmp_path
) -> None:
    backends = {"env": {"env_file": str(tmp_path / "app.env")}}  # no stamp: the token tells

    def manager() -> SecureSecretsManager:
        for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
            del os.environ[variable]
        return SecureSecretsManager(default_backend="env", backends=backends)

    path = isolated_home / "data" / "secure-secrets" / "keyring.json"
    manager().store_secret("app/a", "placeholder-a")
    backup = path.read_bytes()
    manager().rotate_encryption_key(keep_old_keys=0)
    path.write_bytes(backup)
    with pytest.raises(KeyringRollbackError, match="'app/a'"):
        manager().store_secret("app/a", "placeholder-overwritten")


# --- verify-keys and doctor -----------------------------------------------------------------


def test_verify_keys_and_doctor_name_what_a_restored_keyring_cannot_open(
    isolated_home, tmp_path
) -> None:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False, prog_name="secure-secrets")
        assert result.exit_code == code, (result.output, result.stderr)
        return result.output

    path = isolated_home / "data" / "secure-secrets" / "keyring.json"
    manager = SecureSecretsManager()
    manager.store_secret("app/old", "placeholder-old")
    manager.store_secret("app/gone", "placeholder-gone")
    manager.delete_secret("app/gone")  # soft-deleted secrets are checked too
    backup = path.read_bytes()
    SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    assert "every stored value names a data key" in run("verify-keys")
    path.write_bytes(backup)
    out = run("verify-keys", code=6)
    assert "secret 'app/old' cannot be opened" in out and "'app/gone'" in out
    assert "not in the keyring" in out or "older" in out
    doctor = run("doctor", code=1)
    assert "stored keys" in doctor and "app/old" in doctor
