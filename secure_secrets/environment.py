"""Environment variables: exporting secrets for containers, handing them to a child process,
and importing a plaintext ``.env``. Re-exported from :mod:`secrets_core.environment` (see
docs/containers.md and docs/migration.md)."""

from secrets_core.environment import (
    child_environment,
    child_variable_name,
    export_lines,
    export_mapping,
    import_dotenv,
    kubernetes_secret,
    variable_name,
)

__all__ = [
    "child_environment",
    "child_variable_name",
    "export_lines",
    "export_mapping",
    "import_dotenv",
    "kubernetes_secret",
    "variable_name",
]
