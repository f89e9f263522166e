"""Per-environment profiles: own backends, own key material, selected by argument or env."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import ConfigError, IntegrityError, KeyNotAvailableError

CONFIG = """
default_backend = "file"

[profiles.dev]
[profiles.prod]
[profiles.prod.audit]
sinks = ["jsonl", "logging"]
"""


@pytest.fixture
def config(isolated_home: Path) -> Path:
    path = isolated_home / "config" / "secure-secrets" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG)
    return path


def test_profiles_have_separate_stores_and_keys(config, isolated_home) -> None:
    dev = SecureSecretsManager(profile="dev")
    prod = SecureSecretsManager(profile="prod")
    dev.store_secret("db", "dev-value")
    prod.store_secret("db", "prod-value")
    assert dev.retrieve_secret("db") == "dev-value" and prod.retrieve_secret("db") == "prod-value"
    assert dev.settings.data_dir != prod.settings.data_dir
    assert dev.settings.data_dir.name == "dev" and dev.settings.data_dir.parent.name == "profiles"
    dev_key = (dev.settings.data_dir / "master.key").read_bytes()
    assert dev_key != (prod.settings.data_dir / "master.key").read_bytes()
    assert [s.name for s in prod.settings.audit_sinks] == ["jsonl", "logging"]
    assert [s.name for s in dev.settings.audit_sinks] == ["jsonl"]


def test_one_environments_key_never_decrypts_anothers_secrets(config) -> None:
    dev = SecureSecretsManager(profile="dev")
    prod = SecureSecretsManager(profile="prod")
    dev.store_secret("db", "dev-value")
    prod.store_secret("db", "prod-value")
    dev_store = dev.settings.data_dir / "store"
    prod_store = prod.settings.data_dir / "store"
    for prod_file in prod_store.glob("*.secret"):
        (dev_store / prod_file.name).write_bytes(prod_file.read_bytes())  # copy prod over dev
    with pytest.raises(IntegrityError, match="fails authentication"):  # prod's record MAC
        SecureSecretsManager(profile="dev").retrieve_secret("db")
    dev.purge_secret("db")
    dev.backend().write("db", prod.read_stored("db"))  # prod's token in a genuine dev record
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager(profile="dev").retrieve_secret("db")


def test_profile_from_the_environment(config, monkeypatch) -> None:
    monkeypatch.setenv("SECURE_SECRETS_PROFILE", "prod")
    assert SecureSecretsManager().settings.profile == "prod"
    assert SecureSecretsManager(profile="dev").settings.profile == "dev"  # argument wins


def test_unknown_profile_names_the_known_ones(config) -> None:
    with pytest.raises(ConfigError, match=r"profiles.staging.*dev, prod"):
        SecureSecretsManager(profile="staging")


def test_profile_tables_are_validated(config) -> None:
    config.write_text('[profiles.dev]\ndefault_backnd = "file"\n')
    with pytest.raises(ConfigError, match="profiles.dev.default_backnd"):
        SecureSecretsManager(profile="dev")


def test_shared_keys_are_reported(config) -> None:
    from secrets_core.config import shared_keys

    assert shared_keys(config) == []
    config.write_text(
        CONFIG + '\n[profiles.staging]\ndata_dir = "/srv/shared"\n'
        '[profiles.qa]\ndata_dir = "/srv/shared"\n'
        '[profiles.ci]\n[profiles.ci.key_source]\nname = "env"\n'
        '[profiles.ci2]\n[profiles.ci2.key_source]\nname = "env"\n'
    )
    findings = shared_keys(config)
    assert any("'qa' and 'staging' share keyring /srv/shared/keyring.json" in f for f in findings)
    assert any("'ci' and 'ci2' share variable SECURE_SECRETS_KEK" in f for f in findings)
    assert not any("'dev'" in f for f in findings)
