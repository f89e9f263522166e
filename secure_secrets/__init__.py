"""secure-secrets: one API over encrypted local files, encrypted environment variables and
HashiCorp Vault/OpenBao.

    from secure_secrets import SecureSecretsManager, BackendType

    manager = SecureSecretsManager()          # local encrypted files, zero config
    event = manager.store_secret("bluefin_api_key", "value")
    manager.retrieve_secret("bluefin_api_key")

This package only re-exports; the implementation lives in :mod:`secrets_core`.
"""

from secrets_core import __version__
from secrets_core.assembly import list_plugins
from secrets_core.audit import AuditEvent
from secrets_core.config import BackendType
from secrets_core.manager import SecretsManager as SecureSecretsManager
from secrets_core.plugin import PluginInfo
from secrets_core.redacted_logs import RedactingFilter, redact_logs, stop_redacting
from secrets_core.references import (
    ReferenceResolver,
    SecretReference,
    escape_reference,
    is_reference,
    parse_reference,
    resolve_reference,
    resolve_references,
)

__all__ = [
    "AuditEvent",
    "BackendType",
    "PluginInfo",
    "RedactingFilter",
    "ReferenceResolver",
    "SecretReference",
    "SecureSecretsManager",
    "__version__",
    "escape_reference",
    "is_reference",
    "list_plugins",
    "parse_reference",
    "redact_logs",
    "resolve_reference",
    "resolve_references",
    "stop_redacting",
]
