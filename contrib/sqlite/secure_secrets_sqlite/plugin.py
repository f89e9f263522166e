"""Registers the ``sqlite`` backend. Importing this module imports neither ``sqlite3`` nor
the backend: the factory does, when a manager first uses the backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secrets_core import hookimpl
from secrets_core.errors import BackendConfigurationError
from secrets_core.plugin import BackendSpec, Capability, ConfigOption, PluginContext

if TYPE_CHECKING:
    from secure_secrets_sqlite.backend import SqliteBackend

OPTIONS = {
    "path": ConfigOption(str, help="database file; default: <data_dir>/secrets.sqlite3"),
    "max_versions": ConfigOption(
        int, default=10, help="versions kept per secret (older ones are pruned on write)"
    ),
    "timeout": ConfigOption(
        (int, float),
        default=10.0,
        help="seconds to wait for another process's write lock before giving up",
    ),
}


def _make_backend(options: Mapping[str, Any], context: PluginContext) -> SqliteBackend:
    from pathlib import Path

    from secure_secrets_sqlite.backend import SqliteBackend

    max_versions = options["max_versions"]
    if max_versions < 1:
        raise BackendConfigurationError(
            "option 'max_versions' in [backends.sqlite] must be at least 1"
        )
    timeout = float(options["timeout"])
    if not 0 < timeout <= 3600:
        raise BackendConfigurationError(
            "option 'timeout' in [backends.sqlite] must be between 0 and 3600 seconds"
        )
    path = Path(options["path"] or context.data_dir / "secrets.sqlite3").expanduser()
    return SqliteBackend(path, max_versions=max_versions, timeout=timeout)


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="sqlite",
            factory=_make_backend,
            capabilities=frozenset(
                {Capability.LIST, Capability.VERSIONS, Capability.METADATA, Capability.SOFT_DELETE}
            ),
            options=OPTIONS,
            description="one SQLite database file (WAL): versions, metadata, soft delete",
        )
    ]
