"""SecureSecretsSource with the real pydantic and pydantic-settings, over the file, env and
Vault (real OpenBao) backends."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from secure_secrets_pydantic import SecureSecretsSource

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import AccessDeniedError, UnresolvedReferencesError

CANARY = "canary-pydantic-2e7d-do-not-print"


def settings_class(manager: SecureSecretsManager, **options: Any) -> type[BaseSettings]:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="APP_")

        db_password: SecretStr
        api_key: SecretStr = "ss:shared/api_key"  # type: ignore[assignment]
        signing_key: SecretBytes | None = None
        debug: bool = False

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            source = SecureSecretsSource(settings_cls, manager, **options)
            return (init_settings, source, env_settings, dotenv_settings, file_secret_settings)

    return Settings


def check_backend(manager: SecureSecretsManager, monkeypatch: pytest.MonkeyPatch) -> None:
    manager.store_secret("app/db_password", CANARY)
    manager.store_secret("shared/api_key", "api-" + CANARY)
    manager.store_secret("app/signing", b"\x00\xffkey")
    manager.store_secret("other/db", "from-env-reference")
    Settings = settings_class(manager, prefix="app/", mapping={"signing_key": "signing"})
    settings = Settings()
    assert isinstance(settings.db_password, SecretStr)
    assert settings.db_password.get_secret_value() == CANARY  # by name, with the prefix
    assert settings.api_key.get_secret_value() == "api-" + CANARY  # a default reference
    assert isinstance(settings.signing_key, SecretBytes)
    assert settings.signing_key.get_secret_value() == b"\x00\xffkey"  # mapped name, bytes
    assert CANARY not in repr(settings) and CANARY not in str(settings.model_dump())

    monkeypatch.setenv("APP_DB_PASSWORD", "ss:other/db")  # a reference in the environment
    monkeypatch.setenv("APP_DEBUG", "true")  # plain data: pydantic's env source reads it
    settings = Settings()
    assert settings.db_password.get_secret_value() == "from-env-reference" and settings.debug
    monkeypatch.setenv("APP_DB_PASSWORD", "plain-from-env")  # plain data beats the store
    assert Settings().db_password.get_secret_value() == "plain-from-env"
    monkeypatch.delenv("APP_DB_PASSWORD")

    # A secret that does not exist: pydantic's own validation error, no value in it.
    missing = settings_class(manager, prefix="nowhere/")
    with pytest.raises(ValidationError) as info:
        missing()
    errors = info.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("db_password",), "missing")]
    assert CANARY not in str(info.value)

    # A reference that cannot be resolved is never passed through as a string.
    monkeypatch.setenv("APP_API_KEY", "ss:shared/gone")
    monkeypatch.setenv("APP_SIGNING_KEY", "ss:app/signing?version=x")
    with pytest.raises(UnresolvedReferencesError) as refs:
        Settings()
    assert set(refs.value.failures) == {"api_key", "signing_key"}
    assert CANARY not in str(refs.value)


def test_file_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    check_backend(SecureSecretsManager(), monkeypatch)


def test_env_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    check_backend(SecureSecretsManager(default_backend="env"), monkeypatch)


@pytest.mark.slow
def test_vault_backend(vault_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = SecureSecretsManager(
        default_backend="vault", backends={"vault": vault_server.options()}
    )
    check_backend(manager, monkeypatch)


def test_a_reference_to_another_profile_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.dev]\n[profiles.prod]\n")
    SecureSecretsManager(config_path=config, profile="prod").store_secret("db", CANARY)
    dev = SecureSecretsManager(config_path=config, profile="dev")
    monkeypatch.setenv("APP_DB_PASSWORD", "ss:db?profile=prod")
    with pytest.raises(UnresolvedReferencesError) as info:
        settings_class(dev, by_name=False)()
    assert isinstance(next(iter(info.value.failures.values())), AccessDeniedError)
    allowed = settings_class(dev, by_name=False, allow_profiles=["prod"])
    monkeypatch.setenv("APP_API_KEY", "plain")
    assert allowed().db_password.get_secret_value() == CANARY
