"""A pydantic-settings source backed by secure-secrets (see docs/integrations.md).

    class Settings(BaseSettings):
        db_password: SecretStr
        api_key: SecretStr = "ss://vault/app/api_key"

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, SecureSecretsSource(settings_cls, prefix="app/"),
                    env_settings, dotenv_settings, file_secret_settings)

For each field, in this order: an environment (or dotenv) value that is a secret reference is
resolved; any other environment value is left to pydantic's own sources; else the secret
named ``prefix + mapping.get(field, field)`` is read if it exists; else a field default that
is a reference is resolved. A secret that does not exist leaves the field to pydantic, so a
required field gives pydantic's own "Field required" error; a reference that cannot be
resolved raises :class:`~secure_secrets.exceptions.UnresolvedReferencesError` naming the
fields (never a value is put in an error: values are wrapped before pydantic sees them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)

from secure_secrets import ReferenceResolver, SecureSecretsManager, is_reference, parse_reference
from secure_secrets.exceptions import SecretNotFoundError, SecretsError, UnresolvedReferencesError

__all__ = ["SecureSecretsSource"]


def _wrap(field: FieldInfo, value: str | bytes) -> SecretStr | SecretBytes:
    """The value as the secret type the field declares: SecretBytes for a ``SecretBytes``
    (or optional) field and for bytes that are not UTF-8, else SecretStr. pydantic prints
    either masked, also in its validation errors."""
    wants_bytes = field.annotation is SecretBytes or SecretBytes in get_args(field.annotation)
    if isinstance(value, str):
        return SecretBytes(value.encode("utf-8")) if wants_bytes else SecretStr(value)
    if wants_bytes:
        return SecretBytes(value)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:  # its message would quote the bytes: not raised
        return SecretBytes(value)
    return SecretStr(text)


class SecureSecretsSource(PydanticBaseSettingsSource):
    """Settings values from secure-secrets.

    ``manager`` (default: one built from the config and ``SECURE_SECRETS_*`` variables) reads
    the secrets; ``prefix`` is put before every field's secret name and ``mapping`` maps a
    field name to another secret name; ``by_name=False`` reads references only; ``backend``
    is the backend of by-name reads (default: the default backend); ``allow_profiles`` lets
    references name those profiles.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        manager: SecureSecretsManager | None = None,
        *,
        prefix: str = "",
        mapping: Mapping[str, str] | None = None,
        by_name: bool = True,
        backend: str | None = None,
        allow_profiles: Iterable[str] = (),
    ) -> None:
        super().__init__(settings_cls)
        self.manager = manager
        self.prefix = prefix
        self.mapping = dict(mapping or {})
        self.by_name = by_name
        self.backend = backend
        self.allow_profiles = tuple(allow_profiles)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError("SecureSecretsSource reads every field at once in __call__")

    def __call__(self) -> dict[str, Any]:
        environments = (
            EnvSettingsSource(self.settings_cls),
            DotEnvSettingsSource(self.settings_cls),
        )
        data: dict[str, Any] = {}
        failures: dict[str, SecretsError] = {}
        with ReferenceResolver(self.manager, allow_profiles=self.allow_profiles) as resolver:
            for field_name, field in self.settings_cls.model_fields.items():
                key = field_name
                found: str | None = None
                for environment in environments:
                    value, key, _complex = environment.get_field_value(field, field_name)
                    if isinstance(value, str):
                        found = value
                        break
                if found is not None and not is_reference(found):
                    continue  # plain data in the environment: pydantic's env sources read it
                try:
                    if found is not None:
                        data[key] = _wrap(
                            field, resolver.retrieve(parse_reference(found, key), key)
                        )
                        continue
                    if self.by_name:
                        name = self.prefix + self.mapping.get(field_name, field_name)
                        try:
                            secret = resolver.manager.retrieve_secret(name, self.backend)
                        except SecretNotFoundError:
                            pass  # pydantic decides: the default, or its "Field required"
                        else:
                            data[key] = _wrap(field, secret)
                            continue
                    default = field.default
                    if is_reference(default):
                        reference = parse_reference(default, field_name)
                        data[key] = _wrap(field, resolver.retrieve(reference, field_name))
                except SecretsError as exc:
                    failures[field_name] = exc
        if failures:
            data.clear()
            raise UnresolvedReferencesError(failures)
        return data
