"""Audit: events, the audited operation, the HMAC chain, and the built-in sinks.

Every manager call is one :class:`AuditedOperation`; its :class:`AuditEvent` goes to the
configured sinks through the :class:`AuditTrail`. :func:`verify_log` checks a JSON-lines log.
"""

from secrets_core.audit._alerts import ALERT_OPTIONS, AlertsSink
from secrets_core.audit._events import (
    Actor,
    AuditEvent,
    AuditTrail,
    Outcome,
    current_actor,
    new_event_id,
)
from secrets_core.audit._operation import AuditedOperation, Operation
from secrets_core.audit._sinks import JSONL_OPTIONS, LOGGING_OPTIONS, JsonlSink, LoggingSink
from secrets_core.audit._verify import AuditVerification, checked_successor, verify_log

__all__ = [
    "ALERT_OPTIONS",
    "JSONL_OPTIONS",
    "LOGGING_OPTIONS",
    "Actor",
    "AlertsSink",
    "AuditEvent",
    "AuditTrail",
    "AuditVerification",
    "AuditedOperation",
    "JsonlSink",
    "LoggingSink",
    "Operation",
    "Outcome",
    "checked_successor",
    "current_actor",
    "new_event_id",
    "verify_log",
]
