"""Issue 20 item 6: a typo in the config surfaces at the first operation that needs it, as a
typed error naming the config key and the close match (or the distribution to install), and
``config validate`` reports it too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from secrets_core.cli.app import cli
from secrets_core.errors import BackendConfigurationError, PluginNotFoundError
from secrets_core.plugin import PluginPolicy, get_registry
from secure_secrets import SecureSecretsManager


def _typo(name: str) -> str:
    """``name`` with its last letter doubled (``fernet`` -> ``fernett``)."""
    return name + name[-1]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "typo.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("existing_keyring", [False, True])
@pytest.mark.parametrize("cipher", get_registry(PluginPolicy()).names("cipher"))
def test_a_misspelt_cipher_fails_the_first_store(
    tmp_path: Path, cipher: str, existing_keyring: bool
) -> None:
    if existing_keyring:  # the cipher only makes new keys: it was ignored until a rotation
        SecureSecretsManager().store_secret("before", "v")
    config = _config(tmp_path, f'[cipher]\nname = "{_typo(cipher)}"\n')
    manager = SecureSecretsManager(config_path=config)
    with pytest.raises(PluginNotFoundError) as info:
        manager.store_secret("app/token", "v")
    assert isinstance(info.value, BackendConfigurationError)
    message = str(info.value)
    assert message.startswith(f"[cipher] in {config}: no cipher named '{_typo(cipher)}'")
    assert message.endswith(f"did you mean '{cipher}'?")


@pytest.mark.parametrize("backend", get_registry(PluginPolicy()).names("backend"))
def test_a_table_for_a_misspelt_backend_fails_the_first_operation(
    tmp_path: Path, backend: str
) -> None:
    config = _config(tmp_path, f'[backends.{_typo(backend)}]\nsome_option = "x"\n')
    manager = SecureSecretsManager(config_path=config)  # the default backend: file
    with pytest.raises(PluginNotFoundError) as info:
        manager.store_secret("app/token", "v")
    message = str(info.value)
    assert message.startswith(f"[backends.{_typo(backend)}] in {config}: no backend named")
    assert message.endswith(f"did you mean '{backend}'?")


def test_a_table_for_an_uninstalled_backend_names_the_distribution(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '[plugins]\nblock = ["vault"]\n\n[backends.vault]\nvault_url = "https://v:8200"\n'
    )
    with pytest.raises(PluginNotFoundError) as info:
        SecureSecretsManager(config_path=config).retrieve_secret("app/token")
    message = str(info.value)
    assert message.startswith(f"[backends.vault] in {config}: no backend named 'vault'")
    assert "pip install secure-secrets-vault" in message


def test_config_validate_reports_both(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '[cipher]\nname = "fernett"\n\n[backends.valt]\nvault_url = "https://v:8200"\n'
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "validate", "--json"])
    assert result.exit_code != 0
    problems = json.loads(result.stdout)["problems"]
    assert any("[cipher]" in p and "did you mean 'fernet'?" in p for p in problems), problems
    assert any("[backends.valt]" in p and "did you mean 'vault'?" in p for p in problems), problems
