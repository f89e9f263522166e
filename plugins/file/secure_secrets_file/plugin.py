"""Registration of the ``file`` backend (kept light: the backend module loads on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec, Capability, ConfigOption, PluginContext


def _paths(options: Mapping[str, Any], context: PluginContext) -> dict[str, Path]:
    """For ``doctor``: the store directory, which must stay private."""
    from secure_secrets_file.backend import store_path

    return {"file store": store_path(options, context)}


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="file",
            factory="secure_secrets_file.backend:FileBackend.from_options",
            capabilities=frozenset(
                {
                    Capability.LIST,
                    Capability.VERSIONS,
                    Capability.METADATA,
                    Capability.SOFT_DELETE,
                    Capability.MULTI_PROCESS,
                }
            ),
            options={
                "path": ConfigOption(str, help="store directory; default: <data_dir>/store"),
                "lock_timeout": ConfigOption(
                    (int, float),
                    default=10.0,
                    help="seconds to wait for a secret's lock before LockTimeoutError",
                ),
                "max_versions": ConfigOption(
                    int, default=10, help="versions kept per secret (1 to 1000); older are dropped"
                ),
                "on_loose_permissions": ConfigOption(
                    str,
                    default="error",
                    help='"error" (refuse) or "warn" when a store file or directory is '
                    "readable by others or owned by another user",
                ),
            },
            paths=_paths,
            description="one encrypted record file per secret (versions, metadata, soft delete) "
            "in a 0700 directory; durable atomic writes, per-secret locks",
        )
    ]
