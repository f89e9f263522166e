"""Registration of the ``vault`` backend (HashiCorp Vault / OpenBao KV).

Not yet available: the backend itself lands with its own issue. Until then it is registered,
accepts the documented options, and constructing it raises a clear error. The real backend
will import hvac inside the factory, never here.
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
        "the vault backend is not yet available in this release of secure-secrets-vault; "
        "use the file backend (the default) for now"
    )


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="vault",
            factory=_make_backend,
            capabilities=frozenset({Capability.ENCRYPTS_AT_REST, Capability.LIST}),
            options={
                "vault_url": ConfigOption(str, help="server address; default: $VAULT_ADDR"),
                "vault_token": ConfigOption(str, secret=True, help="token; default: $VAULT_TOKEN"),
                "mount_point": ConfigOption(str, default="secret", help="KV mount"),
            },
            description="HashiCorp Vault / OpenBao KV (not yet available)",
        )
    ]
