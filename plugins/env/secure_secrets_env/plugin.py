"""Registration of the ``env`` backend (kept light: the backend module loads on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec, Capability, CommandSpec, ConfigOption, PluginContext
from secure_secrets_env.format import DEFAULT_PREFIX


def _paths(options: Mapping[str, Any], context: PluginContext) -> dict[str, Path]:
    """For ``doctor``: the env file, if one is configured (it holds ciphertext, 0600)."""
    env_file = options.get("env_file")
    return {"env file": Path(env_file).expanduser()} if env_file else {}


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
                    default=DEFAULT_PREFIX,
                    help="variable prefix (letters, digits, '_'); a secret's variable is the "
                    "prefix plus its encoded name",
                ),
                "env_file": ConfigOption(
                    str,
                    help="dotenv file that also keeps the ciphertext (0600, atomic writes, "
                    "other lines kept); read after the process environment",
                ),
            },
            paths=_paths,
            description="ciphertext in environment variables (and an optional dotenv file), "
            "for containers",
        )
    ]


@hookimpl
def secrets_register_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            name="export-env",
            command="secure_secrets_env.cli:export_env_cmd",
            help="Print secrets as env-backend variables (ciphertext) for --env-file or a "
            "Kubernetes Secret.",
        )
    ]
