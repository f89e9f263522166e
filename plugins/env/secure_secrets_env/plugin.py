"""Registration of the ``env`` backend.

Not yet available: the backend itself lands with its own issue. Until then it is registered
(so the name resolves and ``plugins`` lists it) and constructing it raises a clear error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secrets_core import hookimpl
from secrets_core.descriptors import (
    BackendSpec,
    Capability,
    ConfigOption,
    PluginContext,
    StorageBackend,
)
from secrets_core.errors import BackendUnavailableError


def _make_backend(options: Mapping[str, Any], context: PluginContext) -> StorageBackend:
    raise BackendUnavailableError(
        "the env backend is not yet available in this release of secure-secrets-env; "
        "use the file backend (the default) for now"
    )


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="env",
            factory=_make_backend,
            capabilities=frozenset({Capability.LIST}),
            options={
                "prefix": ConfigOption(str, default="SECURE_SECRET_", help="variable prefix"),
                "env_file": ConfigOption(str, help="dotenv file to persist ciphertext in"),
            },
            description="encrypted values in environment variables (not yet available)",
        )
    ]
