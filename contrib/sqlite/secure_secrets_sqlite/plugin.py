"""Registers the ``sqlite`` backend. Importing this module imports neither ``sqlite3`` nor
the backend: the factory does, when a manager first uses the backend."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec, Capability, ConfigOption

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


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="sqlite",
            factory="secure_secrets_sqlite.backend:SqliteBackend.from_options",
            validate="secure_secrets_sqlite.backend:validate_options",
            capabilities=frozenset(
                {
                    Capability.LIST,
                    Capability.VERSIONS,
                    Capability.METADATA,
                    Capability.SOFT_DELETE,
                    Capability.MULTI_PROCESS,
                }
            ),
            options=OPTIONS,
            description="one SQLite database file (WAL): versions, metadata, soft delete",
        )
    ]
