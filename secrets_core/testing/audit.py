"""Contract tests for audit sinks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from secrets_core.audit._events import AuditEvent
from secrets_core.errors import SecretsError
from secrets_core.plugin._api import AuditSink

CANARY_NAME = "kit/audited_secret"


class AuditSinkContract:
    """Subclass and provide ``sink`` (a constructed sink) and ``recorded`` (a callable that
    returns the text the sink has recorded so far, e.g. the file's contents). Provide
    ``unreachable_sink`` (a sink whose destination cannot be reached: a closed port, a path
    that cannot be written) to test the failure contract; the default skips it."""

    @pytest.fixture
    def unreachable_sink(self) -> AuditSink:
        pytest.skip("provide an unreachable_sink fixture to test the failure contract")

    def test_an_unreachable_sink_raises_from_emit_and_check(
        self, unreachable_sink: AuditSink
    ) -> None:
        event = AuditEvent(
            operation="store", backend="file", secret_name=CANARY_NAME, outcome="success"
        )
        check = getattr(unreachable_sink, "check", None)
        if check is not None:
            with pytest.raises(SecretsError):
                check()
                pytest.fail("check() must raise (AuditError) when the sink cannot record")
        with pytest.raises(SecretsError):
            unreachable_sink.emit(event)
            pytest.fail("emit must raise (AuditError) when the event cannot be recorded")

    def test_emit_after_close_records_or_raises_audit_error(
        self, sink: AuditSink, recorded: Callable[[], str]
    ) -> None:
        sink.close()
        event = AuditEvent(
            operation="store", backend="file", secret_name=CANARY_NAME, outcome="success"
        )
        try:
            sink.emit(event)
        except SecretsError:
            return  # defined: a closed sink refuses with AuditError
        except Exception as exc:
            pytest.fail(f"emit after close raised {type(exc).__name__}; raise AuditError")
        assert event.event_id in recorded(), "emit after close must record (reopen) or raise"

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
