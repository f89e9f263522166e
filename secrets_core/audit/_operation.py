"""One audited manager call: the :class:`Operation` it is, and the event it leaves behind."""

import enum
from types import TracebackType
from typing import Any

from secrets_core.audit._events import AuditEvent, AuditTrail, Outcome
from secrets_core.errors import AccessDeniedError, SecretsError
from secrets_core.lazylog import get_logger

log = get_logger("secrets_core")


class Operation(str, enum.Enum):
    """Every operation the manager audits (an event's ``operation`` field)."""

    STORE = "store"
    RETRIEVE = "retrieve"
    LIST = "list"
    METADATA = "metadata"
    READ_STORED = "read_stored"
    DELETE = "delete"
    RESTORE = "restore"
    PURGE = "purge"
    ROTATE = "rotate"
    CHANGE_KEY_SOURCE = "change_key_source"
    CHANGE_PASSPHRASE = "change_passphrase"  # noqa: S105 (an operation name)

    def __str__(self) -> str:
        return self.value

    @property
    def is_read(self) -> bool:
        """A read returns no event: with no sink recording it, none is built."""
        return self._value_ in _READS

    @property
    def is_change(self) -> bool:
        """A change checks first that required sinks can record it (fail closed)."""
        return self._value_ not in _READS

    @property
    def without_backend(self) -> bool:
        """Key operations span every store; their event names no backend."""
        return self._value_ in _KEY_OPERATIONS


# Sets of values, not members: an enum member hashes in Python, a str in C (every call asks).
_READS = frozenset(
    op.value
    for op in (Operation.RETRIEVE, Operation.LIST, Operation.METADATA, Operation.READ_STORED)
)
_KEY_OPERATIONS = frozenset(
    op.value for op in (Operation.ROTATE, Operation.CHANGE_KEY_SOURCE, Operation.CHANGE_PASSPHRASE)
)


class AuditedOperation:
    """Audits one manager call: a success event on normal exit, a failure (or denied) event
    carrying only the error type when it raises."""

    def __init__(
        self, trail: AuditTrail, operation: Operation, backend: str | None, name: str | None
    ) -> None:
        self.trail = trail
        self.operation = operation
        self.backend = backend
        self.name = name
        self.details: dict[str, Any] = {}
        self.event: AuditEvent | None = None
        # read once here (enum properties cost a Python call each; every call asks twice)
        self._value: str = operation._value_
        self.change = self._value not in _READS
        """A change: required sinks are checked before it, and it always returns its event."""

    def __enter__(self) -> "AuditedOperation":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        trail = self.trail
        if trail.empty and not self.change:
            return  # nobody records it and the caller gets no event: skip building one
        if exc_type is None:
            self.event = AuditEvent(
                self._value, self.backend, self.name, "success", None, None, None, None,
                self.details,
            )  # fmt: skip
            trail.emit(self.event, self.change)  # a required sink failing raises AuditError
            return
        outcome: Outcome = "denied" if issubclass(exc_type, AccessDeniedError) else "failure"
        self.event = AuditEvent(
            self._value, self.backend, self.name, outcome, error_type=exc_type.__name__,
            details=self.details,
        )  # fmt: skip
        try:
            trail.emit(self.event, self.change)
        except SecretsError:
            log.error("audit of failed %s could not be recorded", self._value)

    @property
    def completed_event(self) -> AuditEvent:
        """The event of a change that completed (always built for changes)."""
        assert self.event is not None
        return self.event
