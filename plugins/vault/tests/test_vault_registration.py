"""The vault backend is registered but not yet available: the seed config is accepted, no
network is touched, hvac is not imported, and using it raises a typed, clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from secure_secrets import BackendType, SecureSecretsManager
from secure_secrets.exceptions import BackendUnavailableError

SEED = {
    "vault_url": "https://vault.example.com",
    "vault_token": "hvs.CANARYTOKEN",
    "mount_point": "secret",
}


def test_seed_config_constructs_and_fails_clearly_on_use() -> None:
    manager = SecureSecretsManager(
        default_backend=BackendType.VAULT, backends={BackendType.VAULT: SEED}
    )
    with pytest.raises(BackendUnavailableError, match="not yet available") as info:
        manager.store_secret("trading_credentials", "...", backend_type=BackendType.VAULT)
    assert "CANARYTOKEN" not in str(info.value) and "CANARYTOKEN" not in repr(info.value)


def test_registration_does_not_import_hvac() -> None:
    code = (
        "import sys; from secure_secrets import list_plugins; "
        "assert any(p.name == 'vault' and p.status == 'active' for p in list_plugins()); "
        "print('hvac' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
