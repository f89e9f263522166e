"""keyring's own backend test suite (``keyring.testing.backend.BackendBasicTests``, from the
installed keyring package, unmodified) against the file backend and a real OpenBao server."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.testing.backend import BackendBasicTests
from secure_secrets_keyring_backend import SecureSecretsKeyring, secret_name


class TestFileStore(BackendBasicTests):
    def init_keyring(self) -> SecureSecretsKeyring:
        return SecureSecretsKeyring()


@pytest.mark.slow
class TestVaultStore(BackendBasicTests):
    config_path: Path

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _vault(cls, vault_config: Path) -> None:
        cls.config_path = vault_config  # class scope: set before keyring's own fixture

    def test_the_credentials_are_in_vault(self) -> None:
        """Not keyring's test: proves this class runs against OpenBao, not the file store."""
        self.set_password("https://index.example/simple/", "ci", "in-vault")
        manager = self.keyring.manager
        assert manager.default_backend == "vault"
        assert secret_name("https://index.example/simple/", "ci") in manager.list_secrets()

    def init_keyring(self) -> SecureSecretsKeyring:
        ring = SecureSecretsKeyring()
        ring.config_path = str(self.config_path)
        return ring
