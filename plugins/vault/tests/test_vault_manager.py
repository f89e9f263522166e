"""Vault features through the manager, against a real OpenBao server: check-and-set
(``store_secret(..., cas=N)``), per-instance capabilities (KV v1, client-side encryption) and
key rotation over native and client-side encrypted mounts."""

from __future__ import annotations

import json

import pytest
from secure_secrets_vault.errors import VaultCasConflictError

from secrets_core.errors import BackendConfigurationError, ConflictError
from secrets_core.plugin import Capability
from secure_secrets import SecureSecretsManager

VALUE = "manager-VALUE-4b1e"


def manager_for(options: dict[str, object], name: str = "vault") -> SecureSecretsManager:
    return SecureSecretsManager(default_backend=name, backends={name: options})


@pytest.mark.parametrize("client_side", [False, True], ids=["native", "client-side"])
def test_check_and_set_through_the_manager(vault_server, fresh_mount, client_side) -> None:
    options = vault_server.options(mount_point=fresh_mount(2), client_side_encryption=client_side)
    manager = manager_for(options)
    event = manager.store_secret("app/limit", "100", backend_type="vault", cas=0)
    assert event.details == {"cas": 0, "version": 1}
    with pytest.raises(ConflictError, match="check-and-set") as info:
        manager.store_secret("app/limit", "200", backend_type="vault", cas=0)
    assert isinstance(info.value, VaultCasConflictError), "the old name still catches it"
    assert manager.store_secret("app/limit", "300", cas=1).details["version"] == 2
    with pytest.raises(ConflictError):
        manager.store_secret("app/limit", "stale", cas=1)
    assert manager.retrieve_secret("app/limit") == "300"
    manager.close()


def test_check_and_set_on_kv1_is_a_configuration_error(vault_server, unique) -> None:
    manager = manager_for(vault_server.options(mount_point="kv1"))
    assert Capability.CAS not in manager.backend_capabilities("vault")
    with pytest.raises(BackendConfigurationError, match="cas"):
        manager.store_secret(f"{unique}/k", "v", cas=0)
    manager.close()


def test_invalid_cas_values_are_refused(vault_server, unique) -> None:
    from secrets_core.errors import InvalidArgumentError

    manager = manager_for(vault_server.options())
    for bad in (-1, True, "1"):  # a wrong type or a negative number: both InvalidArgumentError
        with pytest.raises(InvalidArgumentError, match="cas"):
            manager.store_secret(f"{unique}/k", "v", cas=bad)  # type: ignore[arg-type]
    manager.close()


def test_client_side_encryption_option_seals_values(vault_server, fresh_mount) -> None:
    mount = fresh_mount(2)
    manager = manager_for(vault_server.options(mount_point=mount, client_side_encryption=True))
    assert Capability.ENCRYPTS_AT_REST not in manager.backend_capabilities()
    manager.store_secret("db/password", VALUE)
    stored = vault_server.admin().secrets.kv.v2.read_secret_version(
        path="db/password", mount_point=mount, raise_on_deleted_version=True
    )["data"]["data"]
    assert stored["encoding"] == "base64" and VALUE not in json.dumps(stored)
    assert manager.retrieve_secret("db/password") == VALUE
    manager.close()
    native = manager_for(vault_server.options(mount_point=mount))
    assert Capability.ENCRYPTS_AT_REST in native.backend_capabilities()
    assert native.retrieve_secret("db/password") != VALUE, "a native reader sees the envelope"
    native.close()


def test_rotation_skips_native_secrets_and_reencrypts_client_side_ones(
    vault_server, fresh_mount
) -> None:
    native_mount, sealed_mount = fresh_mount(2), fresh_mount(2)
    manager = SecureSecretsManager(
        default_backend="vault",
        backends={
            "vault": vault_server.options(mount_point=native_mount),
            "vault-envelope": vault_server.options(mount_point=sealed_mount),
        },
    )
    for i in range(3):
        manager.store_secret(f"n{i}", f"native-{i}")
    for i in range(2):
        manager.store_secret(f"s{i}", f"sealed-{i}", backend_type="vault-envelope")
    admin = vault_server.admin()

    def stored(name: str) -> dict[str, str]:
        return admin.secrets.kv.v2.read_secret_version(
            path=name, mount_point=sealed_mount, raise_on_deleted_version=True
        )["data"]["data"]

    before = stored("s0")
    event = manager.rotate_encryption_key()
    backends = event.details["backends"]
    assert backends["vault"] == {"rotated": 0, "skipped": 3, "failed": 0}
    assert backends["vault-envelope"]["rotated"] == 2 and backends["vault-envelope"]["failed"] == 0
    assert stored("s0") != before, "client-side ciphertext was re-encrypted under the new key"
    assert [manager.retrieve_secret(f"n{i}") for i in range(3)] == [
        "native-0", "native-1", "native-2",
    ]  # fmt: skip
    assert manager.retrieve_secret("s1", backend_type="vault-envelope") == "sealed-1"
    manager.close()
