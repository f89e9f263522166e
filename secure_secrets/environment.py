"""Environment variables: handing secrets to a child process and importing a plaintext
``.env`` (see docs/containers.md and docs/migration.md). Re-exported from
:mod:`secrets_core.child_env` and :mod:`secrets_core.dotenv_import`.

The env backend's format and export (``variable_name``, ``export_lines``, ``export_mapping``,
``kubernetes_secret``) belong to its plugin: ``from secure_secrets_env.export import ...``
(``pip install secure-secrets-env``).
"""

from typing import Any

from secrets_core.child_env import child_environment, child_variable_name
from secrets_core.dotenv_import import import_dotenv

__all__ = ["child_environment", "child_variable_name", "import_dotenv"]

#: Names that moved to the env plugin: where they are now.
MOVED = {
    "export_lines": "secure_secrets_env.export",
    "export_mapping": "secure_secrets_env.export",
    "kubernetes_secret": "secure_secrets_env.export",
    "variable_name": "secure_secrets_env.format",
}


def __getattr__(name: str) -> Any:
    if name in MOVED:
        raise AttributeError(
            f"secure_secrets.environment.{name} moved to the env plugin: "
            f"from {MOVED[name]} import {name} (pip install secure-secrets-env)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
