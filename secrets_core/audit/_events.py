"""Audit events and the trail that delivers them to the configured sinks.

An event records who did what, when, to which secret, on which backend, and how it ended. It
never holds a value or key material. A sink declared ``required`` fails the operation closed
when it cannot record the event; other sinks are best-effort and their failures are logged.
"""

import json
import os
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from secrets_core.clock import utc_timestamp
from secrets_core.errors import AuditError
from secrets_core.lazylog import get_logger
from secrets_core.plugin._api import AuditSink

Outcome = Literal["success", "failure", "denied"]

log = get_logger("secrets_core.audit")


class Actor(NamedTuple):
    """Who performed an operation: OS user, process id and host."""

    user: str
    pid: int
    host: str


_actor_cache: Actor | None = None


def current_actor() -> Actor:
    """The actor for this process: computed once, and again in a forked child (an
    ``os.register_at_fork`` hook forgets it there), so no event pays a ``getpid``."""
    global _actor_cache
    if _actor_cache is None:
        _actor_cache = Actor(user=_user(), pid=os.getpid(), host=_hostname())
    return _actor_cache


def _forget_actor() -> None:
    global _actor_cache
    _actor_cache = None


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to follow
    os.register_at_fork(after_in_child=_forget_actor)


def _user() -> str:
    """The user name as ``getpass.getuser()`` finds it (the login variables, then the
    password database), without importing :mod:`getpass`, which imports :mod:`termios`
    for its prompts (a few ms of every CLI start)."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if user := os.environ.get(variable):
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):  # no passwd entry for the uid (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _hostname() -> str:
    if hasattr(os, "uname"):  # POSIX: what socket.gethostname() returns, without the import
        return os.uname().nodename
    import socket

    return socket.gethostname()


def new_event_id() -> str:
    """A random (version 4) UUID in hex, as ``uuid.uuid4().hex`` returns; made here because
    importing :mod:`uuid` also imports :mod:`platform`, a few ms of every CLI start."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


class _EventFields(NamedTuple):
    operation: str
    backend: str | None
    secret_name: str | None
    outcome: Outcome
    actor: Actor
    event_id: str
    timestamp: str
    error_type: str | None
    details: Mapping[str, Any]


class AuditEvent(_EventFields):
    """One audited operation (immutable). ``details`` holds counts and ids, never values.
    ``actor``, ``event_id`` (a random UUID, hex) and ``timestamp`` (UTC, ISO 8601) default to
    this process, a new id and now."""

    __slots__ = ()

    def __new__(
        cls,
        operation: str,
        backend: str | None,
        secret_name: str | None,
        outcome: Outcome,
        actor: Actor | None = None,
        event_id: str | None = None,
        timestamp: str | None = None,
        error_type: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> "AuditEvent":
        return tuple.__new__(  # the tuple itself: NamedTuple's own __new__ is one more call
            cls,
            (
                operation,
                backend,
                secret_name,
                outcome,
                actor or current_actor(),
                event_id or new_event_id(),
                timestamp or utc_timestamp(),
                error_type,
                {} if details is None else details,
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        actor = self.actor
        return {
            "event_id": self.event_id,
            "timestamp": self.timestamp,
            "operation": self.operation,
            "backend": self.backend,
            "secret_name": self.secret_name,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "actor": {"user": actor.user, "pid": actor.pid, "host": actor.host},
            "details": dict(self.details),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


#: The ``operation`` of the events that carry the chain's head to the other sinks.
CHECKPOINT = "checkpoint"
#: A checkpoint event goes out every this many chained events, and when the trail closes.
CHECKPOINT_EVERY = 100
_REASON_LIMIT = 200
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def describe_failure(exc: BaseException) -> str:
    """A sink's own reason, fit to show: its type and message, with control characters and
    URL credentials removed and the length capped (sinks never see a secret value)."""
    message = "".join(c if c.isprintable() else " " for c in str(exc))
    message = _USERINFO.sub("***@", " ".join(message.split()))
    if len(message) > _REASON_LIMIT:
        message = message[: _REASON_LIMIT - 3] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class AuditTrail:
    """Delivers each event to every configured sink, in order.

    A sink that chains (the ``jsonl`` sink) exposes its ``head``, ``(seq, mac)`` of the last
    line it wrote; the trail sends that head to every other sink as a ``checkpoint`` event,
    every :data:`CHECKPOINT_EVERY` events and when it closes, so that a copy of the head lives
    off this host and a rollback of the log can be caught (``audit verify --anchor``)."""

    def __init__(self, sinks: list[tuple[str, AuditSink, bool]]) -> None:
        self._sinks = sinks
        self.empty = not sinks
        self._sent_head: tuple[int, str] | None = None
        self._since_checkpoint = 0

    @property
    def sinks(self) -> list[str]:
        return [name for name, _sink, _required in self._sinks]

    def emit(self, event: AuditEvent, change: bool = True) -> None:
        """Deliver ``event``; a required sink's failure raises :class:`AuditError` (after a
        ``change`` was made, or for a read whose value is then withheld)."""
        failed_required: list[str] = []
        for name, sink, required in self._sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # a sink's failure is reported, not propagated raw
                reason = describe_failure(exc)
                log.error("audit sink %r failed for event %s: %s", name, event.event_id, reason)
                if required:
                    failed_required.append(f"{name} ({reason})")
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self.send_checkpoint()
        if failed_required:
            outcome = (
                "the change was made but is not recorded there"
                if change
                else "the value read is withheld"
            )
            raise AuditError(
                f"required audit sink {', '.join(failed_required)} could not record event "
                f"{event.event_id} ({event.operation}); {outcome} (fix the sink, or mark it "
                "required = false; see: secure-secrets doctor)"
            )

    def send_checkpoint(self) -> None:
        """Send the chain's head, if it moved, to every sink that does not hold the chain."""
        self._since_checkpoint = 0
        for name, sink, _required in self._sinks:
            head = getattr(sink, "head", None)
            if head is None or head == self._sent_head:
                continue
            self._sent_head = head
            event = AuditEvent(
                CHECKPOINT, None, None, "success", details={"seq": head[0], "mac": head[1]}
            )
            for other, receiver, _ in self._sinks:
                if other == name or getattr(receiver, "head", None) is not None:
                    continue
                try:
                    receiver.emit(event)
                except Exception as exc:  # best-effort: the next checkpoint carries it again
                    log.error(
                        "audit sink %r failed for a checkpoint: %s", other, describe_failure(exc)
                    )

    def check_required(self) -> None:
        """Ask each required sink that has a ``check()`` whether it can record now, so a
        change is refused before it is made rather than after."""
        for name, problem in self.check(required_only=True):
            log.error("required audit sink %r is not writable: %s", name, problem)
            raise AuditError(
                f"required audit sink {name} cannot record events ({problem}); nothing was "
                "changed (fix the sink, or mark it required = false; see: secure-secrets doctor)"
            )

    def check(self, required_only: bool = False) -> list[tuple[str, str]]:
        """``(sink, reason)`` for each sink whose ``check()`` fails (sinks without one are
        taken to be able to record)."""
        problems = []
        for name, sink, required in self._sinks:
            check = getattr(sink, "check", None)
            if check is None or (required_only and not required):
                continue
            try:
                check()
            except Exception as exc:
                problems.append((name, describe_failure(exc)))
        return problems

    def close(self) -> None:
        self.send_checkpoint()
        for _name, sink, _required in self._sinks:
            try:
                sink.close()
            except Exception as exc:  # closing is best-effort
                log.warning("audit sink %r failed to close: %s", _name, describe_failure(exc))
