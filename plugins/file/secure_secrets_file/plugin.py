"""Registration of the ``file`` backend (kept light: the backend module loads on first use)."""

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


def _make_backend(options: Mapping[str, Any], context: PluginContext) -> StorageBackend:
    from secure_secrets_file.backend import FileBackend

    return FileBackend.from_options(options, context)


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="file",
            factory=_make_backend,
            capabilities=frozenset({Capability.LIST}),
            options={
                "path": ConfigOption(str, help="store directory; default: <data_dir>/store"),
                "lock_timeout": ConfigOption(
                    (int, float), default=10.0, help="seconds to wait for the store lock"
                ),
            },
            description="one encrypted file per secret in a 0700 directory",
        )
    ]
