"""The core's internal plugin: audit sinks and key sources, registered through the same hooks
as every other plugin (it is registered directly rather than through an entry point, so the
core works with nothing else installed)."""

from __future__ import annotations

from secrets_core.audit._options import ALERT_OPTIONS, JSONL_OPTIONS, LOGGING_OPTIONS
from secrets_core.keys._sources import (
    ENV_OPTIONS,
    KEYFILE_OPTIONS,
    PASSPHRASE_OPTIONS,
    EnvKeySource,
    KeyfileSource,
    PassphraseSource,
)
from secrets_core.plugin._api import AuditSinkSpec, KeySourceSpec
from secrets_core.plugin._marker import hookimpl

#: The sinks are named, not imported: registering them (every start) imports none of them.
_SINKS = "secrets_core.audit._sinks"


@hookimpl
def secrets_register_audit_sinks() -> list[AuditSinkSpec]:
    return [
        AuditSinkSpec(
            "jsonl", f"{_SINKS}:JsonlSink", JSONL_OPTIONS, "JSON lines file, 0600 (default)"
        ),
        AuditSinkSpec(
            "logging", f"{_SINKS}:LoggingSink", LOGGING_OPTIONS, "Python logging records"
        ),
        AuditSinkSpec(
            "alerts",
            "secrets_core.audit._alerts:AlertsSink",
            ALERT_OPTIONS,
            "rules that alert on suspicious access",
        ),
    ]


@hookimpl
def secrets_register_key_sources() -> list[KeySourceSpec]:
    return [
        KeySourceSpec("keyfile", KeyfileSource, KEYFILE_OPTIONS, "random KEK in a 0600 file"),
        KeySourceSpec("env", EnvKeySource, ENV_OPTIONS, "base64 KEK in an environment variable"),
        KeySourceSpec(
            "passphrase", PassphraseSource, PASSPHRASE_OPTIONS, "KEK derived from a passphrase"
        ),
    ]
