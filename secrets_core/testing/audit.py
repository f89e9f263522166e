"""Contract tests for audit sinks."""

from __future__ import annotations

from collections.abc import Callable

from secrets_core.audit._events import AuditEvent
from secrets_core.plugin._api import AuditSink

CANARY_NAME = "kit/audited_secret"


class AuditSinkContract:
    """Subclass and provide ``sink`` (a constructed sink) and ``recorded`` (a callable that
    returns the text the sink has recorded so far, e.g. the file's contents)."""

    def test_implements_the_interface(self, sink: AuditSink) -> None:
        assert isinstance(sink, AuditSink), "a sink needs emit(event) and close()"

    def test_events_are_recorded_in_order(
        self, sink: AuditSink, recorded: Callable[[], str]
    ) -> None:
        events = [
            AuditEvent(operation=op, backend="file", secret_name=CANARY_NAME, outcome="success")
            for op in ("store", "retrieve", "delete")
        ]
        for event in events:
            sink.emit(event)
        text = recorded()
        positions = [text.find(event.event_id) for event in events]
        assert -1 not in positions, "every emitted event must be recorded with its event_id"
        assert positions == sorted(positions), "events must be recorded in emission order"

    def test_failure_events_keep_their_error_type(
        self, sink: AuditSink, recorded: Callable[[], str]
    ) -> None:
        event = AuditEvent(
            operation="retrieve",
            backend="file",
            secret_name=CANARY_NAME,
            outcome="failure",
            error_type="SecretNotFoundError",
        )
        sink.emit(event)
        assert "SecretNotFoundError" in recorded(), "a failure event must record its error_type"

    def test_close_is_idempotent(self, sink: AuditSink) -> None:
        sink.close()
        sink.close()
