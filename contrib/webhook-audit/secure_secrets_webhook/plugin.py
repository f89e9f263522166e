"""Registers the ``webhook`` audit sink (stdlib only; ``urllib`` is imported by the sink)."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import AuditSinkSpec, ConfigOption

OPTIONS = {
    "url": ConfigOption(
        str,
        required=True,
        help="where to POST events; https, or http to a loopback address only",
    ),
    "timeout": ConfigOption(
        (int, float), default=5.0, help="seconds to wait for the receiver per request"
    ),
    "token": ConfigOption(
        str, secret=True, help='sent as "Authorization: Bearer TOKEN"; use { env = "VAR" }'
    ),
    "ca_file": ConfigOption(str, help="CA bundle to verify the receiver (default: system CAs)"),
}


@hookimpl
def secrets_register_audit_sinks() -> list[AuditSinkSpec]:
    return [
        AuditSinkSpec(
            name="webhook",
            factory="secure_secrets_webhook.sink:WebhookSink.from_options",
            options=OPTIONS,
            description="HTTP POST of each event as JSON (https; http only to loopback)",
        )
    ]
