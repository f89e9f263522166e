"""Registration of the ``env`` backend (kept light: the backend module loads on first use)."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec, Capability, ConfigOption


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="env",
            factory="secure_secrets_env.backend:EnvBackend.from_options",
            capabilities=frozenset({Capability.LIST}),
            options={
                "prefix": ConfigOption(
                    str,
                    default="SECURE_SECRET_",
                    help="variable prefix (letters, digits, '_'); a secret's variable is the "
                    "prefix plus its encoded name",
                ),
                "env_file": ConfigOption(
                    str,
                    help="dotenv file that also keeps the ciphertext (0600, atomic writes, "
                    "other lines kept); read after the process environment",
                ),
            },
            description="ciphertext in environment variables (and an optional dotenv file), "
            "for containers",
        )
    ]
