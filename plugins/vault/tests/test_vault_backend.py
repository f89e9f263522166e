"""The vault backend through the manager and on its own, against a real OpenBao server:
the seed config, env defaults, native storage readable by other clients, KV v2 capabilities,
KV v1, check-and-set, client-side envelope mode."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from secure_secrets_vault import plugin
from secure_secrets_vault.backend import KV1_CAPABILITIES, KV2_CAPABILITIES, VaultBackend
from secure_secrets_vault.errors import VaultCasConflictError
from secure_secrets_vault.settings import settings_from_options

from secrets_core.config import resolve_options
from secrets_core.errors import (
    BackendConfigurationError,
    SecretAccessError,
    SecretNotFoundError,
)
from secure_secrets import BackendType, SecureSecretsManager

VALUE = "trading-credential-VALUE-7f3a"


def make_backend(options: dict[str, object], name: str = "vault") -> VaultBackend:
    spec = next(s for s in plugin.secrets_register_backends() if s.name == name)
    return VaultBackend(
        settings_from_options(resolve_options(spec.options, options, "[test]")),
        envelope=name == "vault-envelope",
    )


def vault_manager(options: dict[str, object], name: str = "vault") -> SecureSecretsManager:
    return SecureSecretsManager(default_backend=name, backends={name: options})


# --- the seed configuration and interoperability -----------------------------------------------


def test_seed_config_works_verbatim(vault_server, unique: str) -> None:
    manager = SecureSecretsManager(
        default_backend=BackendType.VAULT,
        backends={
            BackendType.VAULT: {
                "vault_url": vault_server.url,
                "vault_token": vault_server.token,
                "mount_point": "secret",
            }
        },
    )
    event = manager.store_secret(f"{unique}/trading_credentials", VALUE, backend_type="vault")
    assert event.outcome == "success" and event.details["version"] == 1
    got = manager.retrieve_secret(f"{unique}/trading_credentials", backend_type=BackendType.VAULT)
    assert got == VALUE and type(got) is str
    manager.close()


def test_values_are_stored_natively_for_other_clients(
    vault_server, unique: str, bao_path: str
) -> None:
    backend = make_backend(vault_server.options())
    backend.write(f"{unique}/text", VALUE)
    backend.write(f"{unique}/blob", b"\x00\xffbinary")
    admin = vault_server.admin()
    text = admin.secrets.kv.v2.read_secret_version(
        path=f"{unique}/text", mount_point="secret", raise_on_deleted_version=True
    )
    assert text["data"]["data"] == {"value": VALUE}
    blob = admin.secrets.kv.v2.read_secret_version(
        path=f"{unique}/blob", mount_point="secret", raise_on_deleted_version=True
    )
    assert blob["data"]["data"] == {"value": "AP9iaW5hcnk=", "encoding": "base64"}

    env = {**os.environ, "BAO_ADDR": vault_server.url, "BAO_TOKEN": vault_server.token}
    out = subprocess.run(
        [bao_path, "kv", "get", "-format=json", "-mount=secret", f"{unique}/text"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["data"]["data"]["value"] == VALUE


def test_secrets_written_by_other_clients_are_readable(vault_server, unique: str) -> None:
    admin = vault_server.admin()
    admin.secrets.kv.v2.create_or_update_secret(
        path=f"{unique}/db", secret={"user": "app", "password": "pw"}, mount_point="secret"
    )
    admin.secrets.kv.v2.create_or_update_secret(
        path=f"{unique}/plain", secret={"value": "hello"}, mount_point="secret"
    )
    backend = make_backend(vault_server.options())
    assert backend.read(f"{unique}/plain") == "hello"
    assert json.loads(backend.read(f"{unique}/db")) == {"user": "app", "password": "pw"}


def test_vault_env_variables_are_defaults(
    vault_server, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.token)
    manager = vault_manager({})
    manager.store_secret(f"{unique}/from_env", "v")
    assert manager.retrieve_secret(f"{unique}/from_env") == "v"


def test_token_file_and_credential_references(
    vault_server, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(vault_server.token + "\n")
    backend = make_backend({"vault_url": vault_server.url, "token_file": str(token_file)})
    backend.write(f"{unique}/a", "1")
    assert backend.read(f"{unique}/a") == "1"
    monkeypatch.setenv("MY_VAULT_TOKEN", vault_server.token)
    manager = vault_manager(
        {"vault_url": vault_server.url, "vault_token": {"env": "MY_VAULT_TOKEN"}}
    )
    assert manager.retrieve_secret(f"{unique}/a") == "1"


def test_missing_address_or_token_is_a_configuration_error() -> None:
    with pytest.raises(BackendConfigurationError, match="VAULT_ADDR"):
        make_backend({"vault_token": "x"})
    with pytest.raises(BackendConfigurationError, match="VAULT_TOKEN"):
        make_backend({"vault_url": "http://127.0.0.1:1"})
    with pytest.raises(BackendConfigurationError, match="kv_version"):
        make_backend({"vault_url": "http://127.0.0.1:1", "vault_token": "x", "kv_version": 3})


def test_a_missing_mount_is_a_configuration_error(vault_server) -> None:
    backend = make_backend(vault_server.options(mount_point="no-such-mount"))
    with pytest.raises(BackendConfigurationError, match="no-such-mount"):
        backend.read("x")


# --- KV v2 capabilities through the manager ----------------------------------------------------


def test_versions_metadata_and_soft_delete_through_the_manager(vault_server, fresh_mount) -> None:
    manager = vault_manager(vault_server.options(mount_point=fresh_mount(2)))
    manager.store_secret("app/key", "one", metadata={"owner": "team-a"})
    event = manager.store_secret("app/key", b"two")
    assert event.details["version"] == 2
    assert manager.retrieve_secret("app/key", version=1) == "one"
    assert manager.retrieve_secret("app/key") == b"two"
    meta = manager.secret_metadata("app/key")
    assert meta.current_version == 2 and [v.version for v in meta.versions] == [1, 2]
    assert dict(meta.custom) == {"owner": "team-a"} and not meta.deleted
    assert meta.created.endswith("+00:00") and meta.created <= meta.updated

    manager.delete_secret("app/key")
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("app/key")
    assert manager.list_secrets() == []
    assert manager.secret_metadata("app/key").deleted
    assert manager.retrieve_secret("app/key", version=1) == "one", "older versions stay"
    manager.restore_secret("app/key")
    assert manager.retrieve_secret("app/key") == b"two"
    manager.purge_secret("app/key")
    with pytest.raises(SecretNotFoundError):
        manager.secret_metadata("app/key")


def test_recursive_list_with_prefix(vault_server, fresh_mount) -> None:
    backend = make_backend(vault_server.options(mount_point=fresh_mount(2)))
    for name in ("app", "app/db/password", "app/db/user", "app/key", "apple", "billing/x"):
        backend.write(name, "v")
    assert backend.list_names("") == [
        "app", "app/db/password", "app/db/user", "app/key", "apple", "billing/x",
    ]  # fmt: skip
    assert backend.list_names("app/") == ["app/db/password", "app/db/user", "app/key"]
    assert backend.list_names("app/db/p") == ["app/db/password"]
    assert backend.list_names("app") == [
        "app", "app/db/password", "app/db/user", "app/key", "apple",
    ]  # fmt: skip
    assert backend.list_names("nothing/") == []


def test_check_and_set(vault_server, unique: str) -> None:
    backend = make_backend(vault_server.options())
    name = f"{unique}/cas"
    assert backend.write(name, "first", cas=0) == 1
    with pytest.raises(VaultCasConflictError, match="check-and-set") as info:
        backend.write(name, "again", cas=0)
    assert isinstance(info.value, SecretAccessError)
    assert backend.write(name, "second", cas=backend.current_version(name)) == 2
    with pytest.raises(VaultCasConflictError):
        backend.write(name, "stale", cas=1)
    assert backend.read(name) == "second"


def test_rotation_reports_vault_native_secrets_as_server_managed(vault_server, fresh_mount) -> None:
    manager = vault_manager(vault_server.options(mount_point=fresh_mount(2)))
    manager.store_secret("a", "1")
    manager.store_secret("b", "2")
    manager.delete_secret("b")
    event = manager.rotate_encryption_key()
    assert event.details["backends"]["vault"] == {"rotated": 0, "skipped": 2, "failed": 0}
    assert manager.retrieve_secret("a") == "1"


def test_destroyed_and_deleted_versions(vault_server, unique: str) -> None:
    backend = make_backend(vault_server.options())
    name = f"{unique}/versions"
    backend.write(name, "v1")
    backend.write(name, "v2")
    vault_server.admin().secrets.kv.v2.destroy_secret_versions(
        path=name, versions=[1], mount_point="secret"
    )
    with pytest.raises(SecretNotFoundError, match="version 1"):
        backend.read_version(name, 1)
    assert [v.version for v in backend.metadata(name).versions] == [2]


# --- KV v1 -------------------------------------------------------------------------------------


def test_kv1_is_detected_and_reduced(vault_server, unique: str) -> None:
    backend = make_backend(vault_server.options(mount_point="kv1"))
    assert backend.kv_version == 1 and backend.capabilities == KV1_CAPABILITIES
    assert backend.write(f"{unique}/k", "v") is None
    assert backend.read(f"{unique}/k") == "v"
    for call in (
        lambda: backend.read_version(f"{unique}/k", 1),
        lambda: backend.metadata(f"{unique}/k"),
        lambda: backend.restore(f"{unique}/k"),
        lambda: backend.write(f"{unique}/k", "v", cas=1),
    ):
        with pytest.raises(BackendConfigurationError, match="KV version 1"):
            call()
    assert backend.list_deleted("") == []
    backend.purge(f"{unique}/k")
    with pytest.raises(SecretNotFoundError):
        backend.read(f"{unique}/k")
    v2 = make_backend(vault_server.options())
    assert v2.kv_version == 2 and v2.capabilities == KV2_CAPABILITIES


def test_kv_version_can_be_forced(vault_server, unique: str) -> None:
    backend = make_backend(vault_server.options(mount_point="kv1", kv_version=1))
    assert backend.kv_version == 1
    backend.write(f"{unique}/x", b"\x01")
    assert backend.read(f"{unique}/x") == b"\x01"


# --- client-side envelope mode -----------------------------------------------------------------


def test_envelope_mode_stores_ciphertext_and_rotates(vault_server, fresh_mount) -> None:
    mount = fresh_mount(2)
    manager = vault_manager(vault_server.options(mount_point=mount), name="vault-envelope")
    manager.store_secret("db/password", VALUE)
    stored = vault_server.admin().secrets.kv.v2.read_secret_version(
        path="db/password", mount_point=mount, raise_on_deleted_version=True
    )["data"]["data"]
    assert VALUE not in json.dumps(stored), "the server sees ciphertext only"
    assert manager.retrieve_secret("db/password") == VALUE
    event = manager.rotate_encryption_key()
    assert event.details["backends"]["vault-envelope"]["rotated"] == 1
    assert manager.retrieve_secret("db/password") == VALUE
    manager.delete_secret("db/password")
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("db/password")


# --- the documented policy is sufficient -------------------------------------------------------


def documented_policy(mount: str) -> str:
    text = (Path(__file__).resolve().parents[3] / "docs" / "vault.md").read_text()
    block = text.split("```hcl\n", 1)[1].split("```", 1)[0]
    return block.replace("secret/", f"{mount}/").replace("mounts/secret", f"mounts/{mount}")


def test_the_policy_in_the_docs_is_enough_for_every_operation(vault_server, fresh_mount) -> None:
    mount = fresh_mount(2)
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name=f"docs-{mount}", policy=documented_policy(mount))
    token = admin.auth.token.create(policies=[f"docs-{mount}"], no_default_policy=True)["auth"][
        "client_token"
    ]
    manager = vault_manager(
        {"vault_url": vault_server.url, "vault_token": token, "mount_point": mount}
    )
    manager.store_secret("app/key", "v1", metadata={"team": "a"})
    manager.store_secret("app/key", "v2")
    assert manager.retrieve_secret("app/key", version=1) == "v1"
    assert manager.list_secrets() == ["app/key"] and manager.list_secrets("app/") == ["app/key"]
    assert dict(manager.secret_metadata("app/key").custom) == {"team": "a"}
    manager.delete_secret("app/key")
    manager.restore_secret("app/key")
    assert manager.retrieve_secret("app/key") == "v2"
    manager.purge_secret("app/key")
    assert manager.list_secrets() == []


def test_from_options_and_cas(vault_server, unique: str) -> None:
    backend = VaultBackend.from_options(vault_server.options())
    backend.write(f"{unique}/limit", "1", cas=0)
    backend.write(f"{unique}/limit", "2", cas=backend.current_version(f"{unique}/limit"))
    assert backend.read(f"{unique}/limit") == "2"


# --- namespaces --------------------------------------------------------------------------------


def test_namespace_option_and_env(vault_server, unique: str, monkeypatch) -> None:
    admin = vault_server.admin()
    admin.adapter.post(f"/v1/sys/namespaces/{unique}")
    admin.adapter.namespace = unique
    admin.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    admin.adapter.namespace = None
    backend = make_backend(vault_server.options(namespace=unique, mount_point="kv"))
    backend.write("in/namespace", "v")
    monkeypatch.setenv("VAULT_NAMESPACE", unique)
    from_env = make_backend(vault_server.options(mount_point="kv"))
    assert from_env.read("in/namespace") == "v"
    monkeypatch.delenv("VAULT_NAMESPACE")
    outside = make_backend(vault_server.options(mount_point="kv", kv_version=2))
    with pytest.raises((SecretNotFoundError, BackendConfigurationError)):
        outside.read("in/namespace")


def test_corrupt_stored_data_is_an_integrity_error_without_the_data(vault_server, unique) -> None:
    import traceback

    from secrets_core.errors import IntegrityError

    canary = "not*base64*CANARY"
    vault_server.admin().secrets.kv.v2.create_or_update_secret(
        path=f"{unique}/bad", secret={"value": canary, "encoding": "base64"}, mount_point="secret"
    )
    backend = make_backend(vault_server.options())
    for read in (
        lambda: backend.read(f"{unique}/bad"),
        lambda: backend.read_version(f"{unique}/bad", 1),
    ):
        with pytest.raises(IntegrityError, match="base64") as info:
            read()
        assert info.value.__context__ is None and info.value.__cause__ is None
        for frame, _ in traceback.walk_tb(info.value.__traceback__):
            if "secure_secrets" in frame.f_code.co_filename:
                assert canary not in repr(frame.f_locals), frame
