"""Fixtures of the keyring backend's tests: a real OpenBao dev server (the Vault tests' own
helper, loaded from plugins/vault/tests/conftest.py) and keyring backends on each store."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_secrets_keyring_backend import SecureSecretsKeyring

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "keyring_backend_vault_conftest", REPO / "plugins" / "vault" / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
vault_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = vault_conftest  # dataclasses look their module up
_spec.loader.exec_module(vault_conftest)


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A ``bao server -dev`` on a free loopback port, stopped by its PID."""
    server = vault_conftest.BaoServer(tmp_path_factory.mktemp("bao-keyring")).start()
    try:
        yield server
    finally:
        server.stop()


TOKEN_VARIABLE = "KEYRING_TEST_BAO_TOKEN"


@pytest.fixture(scope="class")
def vault_config(bao, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """A config file selecting the Vault backend on a fresh KV v2 mount of ``bao``. The token
    is referenced by a variable (set for the class), never written to the file."""
    mount = f"kr-{uuid.uuid4().hex[:10]}"
    bao.admin().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    config = tmp_path_factory.mktemp("vault-config") / "config.toml"
    config.write_text(
        'default_backend = "vault"\n[backends.vault]\n'
        f'vault_url = "{bao.url}"\nvault_token = {{ env = "{TOKEN_VARIABLE}" }}\n'
        f'mount_point = "{mount}"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_VARIABLE, bao.token)
        yield config


@pytest.fixture
def file_keyring() -> SecureSecretsKeyring:
    """The backend on the zero-config store (file backend) of the isolated home."""
    return SecureSecretsKeyring()
