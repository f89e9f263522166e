"""Registration is cheap and safe: the seed config constructs a manager without touching the
network, registering imports neither hvac nor requests, and an unreachable server gives a
typed error without the token."""

from __future__ import annotations

import subprocess
import sys

import pytest
from secure_secrets_vault import plugin

from secrets_core.plugin import Capability
from secure_secrets import BackendType, SecureSecretsManager
from secure_secrets.exceptions import BackendUnavailableError

SEED = {
    "vault_url": "https://127.0.0.1:9",  # discard port: nothing listens
    "vault_token": "hvs.CANARYTOKEN",
    "mount_point": "secret",
}


def test_seed_config_constructs_and_fails_clearly_when_unreachable() -> None:
    manager = SecureSecretsManager(
        default_backend=BackendType.VAULT,
        backends={BackendType.VAULT: {**SEED, "max_retries": 0}},
    )
    with pytest.raises(BackendUnavailableError, match="cannot connect") as info:
        manager.store_secret("trading_credentials", "...", backend_type=BackendType.VAULT)
    assert "CANARYTOKEN" not in str(info.value) and "CANARYTOKEN" not in repr(info.value)


@pytest.mark.slow
def test_registration_does_not_import_hvac() -> None:
    code = (
        "import sys; from secure_secrets import list_plugins, SecureSecretsManager; "
        "assert any(p.name == 'vault' and p.status == 'active' for p in list_plugins()); "
        "SecureSecretsManager(default_backend='vault', backends={'vault': "
        f"{SEED!r}}}); "
        "print('hvac' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_declared_capabilities() -> None:
    specs = {s.name: s for s in plugin.secrets_register_backends()}
    assert specs["vault"].capabilities == {
        Capability.LIST, Capability.ENCRYPTS_AT_REST, Capability.VERSIONS,
        Capability.METADATA, Capability.SOFT_DELETE, Capability.CAS, Capability.MULTI_PROCESS,
    }  # fmt: skip
    assert Capability.ENCRYPTS_AT_REST not in specs["vault-envelope"].capabilities
    assert Capability.MULTI_PROCESS in specs["vault-envelope"].capabilities
    assert {"vault_url", "vault_token", "mount_point"} <= set(specs["vault"].options)
    assert specs["vault"].options["vault_token"].secret
    assert specs["vault"].options["secret_id"].secret
    assert [c.name for c in plugin.secrets_register_ciphers()] == ["transit"]


def test_vault_envelope_names_the_table_it_reads(monkeypatch) -> None:
    """``vault-envelope`` reads ``[backends.vault-envelope]`` (not ``[backends.vault]``), and
    its configuration errors name that table."""
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    from secrets_core.errors import BackendConfigurationError

    manager = SecureSecretsManager(
        default_backend="vault-envelope",
        backends={"vault": {"vault_url": "http://127.0.0.1:1"}, "vault-envelope": {}},
    )
    with pytest.raises(BackendConfigurationError, match=r"in \[backends\.vault-envelope\]"):
        manager.store_secret("k", "v")
