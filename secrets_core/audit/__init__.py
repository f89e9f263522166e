"""Audit: events, the audited operation, the HMAC chain, and the built-in sinks.

Every manager call is one :class:`AuditedOperation`; its :class:`AuditEvent` goes to the
configured sinks through the :class:`AuditTrail`. :func:`verify_log` checks a JSON-lines log.

The names below are imported from their modules on first use (PEP 562): importing one
module of this package (every start imports the events and the chain) does not import the
verifier or the sinks that are not configured.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secrets_core.audit._alerts import AlertsSink
    from secrets_core.audit._events import (
        Actor,
        AuditEvent,
        AuditTrail,
        Outcome,
        current_actor,
        new_event_id,
    )
    from secrets_core.audit._operation import AuditedOperation, Operation
    from secrets_core.audit._options import ALERT_OPTIONS, JSONL_OPTIONS, LOGGING_OPTIONS
    from secrets_core.audit._sinks import JsonlSink, LoggingSink
    from secrets_core.audit._verify import AuditVerification, checked_successor, verify_log

#: Each public name -> the module that defines it.
_HOMES = {
    "AlertsSink": "_alerts",
    "Actor": "_events",
    "AuditEvent": "_events",
    "AuditTrail": "_events",
    "Outcome": "_events",
    "current_actor": "_events",
    "new_event_id": "_events",
    "AuditedOperation": "_operation",
    "Operation": "_operation",
    "ALERT_OPTIONS": "_options",
    "JSONL_OPTIONS": "_options",
    "LOGGING_OPTIONS": "_options",
    "JsonlSink": "_sinks",
    "LoggingSink": "_sinks",
    "AuditVerification": "_verify",
    "checked_successor": "_verify",
    "verify_log": "_verify",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = __import__(f"{__name__}.{_HOMES[name]}", fromlist=[name])
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
