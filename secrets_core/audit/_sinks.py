"""The core's own audit sinks: a JSON-lines file and Python ``logging``."""

from __future__ import annotations

import _thread
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from secrets_core.audit._chain import (
    GENESIS,
    canonical,
    checkpoint_bytes,
    name_digest,
    sealed_line,
)
from secrets_core.audit._events import AuditEvent
from secrets_core.defaults import audit_log_path
from secrets_core.fsutil import PRIVATE_FILE_MODE, ensure_private_dir, refuse_symlink
from secrets_core.lazylog import get_logger
from secrets_core.plugin._api import ConfigOption, PluginContext

JSONL_OPTIONS = {
    "path": ConfigOption(str, help="audit log file; default: <log_dir>/audit.jsonl"),
    "fsync": ConfigOption(bool, default=False, help="fsync after every event"),
    "chain": ConfigOption(bool, default=True, help="HMAC-chain the lines (tamper-evident)"),
    "hash_names": ConfigOption(
        bool, default=False, help="record secret names as keyed HMACs, not in clear"
    ),
}
LOGGING_OPTIONS = {
    "logger": ConfigOption(str, default="secure_secrets.audit", help="logger name"),
    "level": ConfigOption(str, default="INFO", help="level of the records"),
}
_TAIL_WINDOW = 65536
log = get_logger("secrets_core.audit")


class JsonlSink:
    """Appends one JSON object per line to a 0600 file, HMAC-chained (see
    :mod:`secrets_core.audit`), and keeps a checkpoint of the last line beside it.

    Appends from several processes are serialised with ``flock`` on the log itself (the log
    is only ever appended to, never replaced, so no separate lock file is needed), and each
    writer re-reads the last line when another process has appended since its own write.
    """

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.path = Path(options.get("path") or audit_log_path(context.log_dir)).expanduser()
        self.checkpoint_path = self.path.with_name(self.path.name + ".checkpoint")
        self.fsync = bool(options.get("fsync"))
        self.chain = options.get("chain", True) is not False
        self.hash_names = bool(options.get("hash_names"))
        self._audit_key = context.audit_key
        self._key: bytes | None = None
        self._fds: tuple[int, int] | None = None
        self._fd_pid = 0
        self._tail_state: tuple[int, str, int] | None = None  # seq, mac, log size after it
        self._lock = _thread.allocate_lock()

    def _open(self, path: Path) -> int:
        refuse_symlink(path)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags | (os.O_APPEND if path == self.path else 0), PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return fd

    def _files(self) -> tuple[int, int]:
        if self._fds is None or self._fd_pid != os.getpid():
            ensure_private_dir(self.path.parent)
            self._fds = (self._open(self.path), self._open(self.checkpoint_path))
            self._fd_pid = os.getpid()
            self._tail_state = None
        return self._fds

    def check(self) -> None:
        """Raise if the log cannot be opened for appending."""
        with self._lock:
            self._files()

    def _chain_key(self) -> bytes | None:
        if self._key is None and self.chain and self._audit_key is not None:
            try:
                self._key = self._audit_key()  # None until the store has a keyring
            except Exception as exc:
                # The event is still recorded, unauthenticated: verify_audit_log reports such
                # a line once the chain has begun, so losing the key cannot hide events.
                log.warning("audit chain key unavailable (%s); event not MACed", type(exc).__name__)
        return self._key

    def emit(self, event: AuditEvent) -> None:
        record = event.to_dict()
        key = self._chain_key()
        if self.hash_names and record["secret_name"] is not None:
            name = record["secret_name"]
            record["secret_name"] = name_digest(key, name) if key else "hmac-sha256:unavailable"
        with self._lock:
            log_fd, checkpoint_fd = self._files()
            if not self.chain:
                os.write(log_fd, canonical(record) + b"\n")
                if self.fsync:
                    os.fsync(log_fd)
                return
            with _exclusive(log_fd):
                seq, prev, size = self._tail(log_fd)
                record["seq"], record["prev"] = seq + 1, prev
                line, mac = sealed_line(key, record)
                _write_all(log_fd, line)
                if self.fsync:
                    os.fsync(log_fd)
                size += len(line)
                self._tail_state = (seq + 1, mac or GENESIS, size)
                os.pwrite(checkpoint_fd, checkpoint_bytes(key, seq + 1, mac, size), 0)

    def _tail(self, fd: int) -> tuple[int, str, int]:
        """seq and mac of the last line, re-read only if another process appended."""
        size = os.fstat(fd).st_size
        if self._tail_state is not None and self._tail_state[2] == size:
            return self._tail_state
        if size == 0:
            return 0, GENESIS, 0
        start = max(0, size - _TAIL_WINDOW)
        window = os.pread(fd, size - start, start)
        candidates = window.rstrip(b"\n").rsplit(b"\n", 2)[::-1][:2]  # last, the one before
        if not window.endswith(b"\n"):
            # The last write was cut short (a power cut or a full disk; SIGKILL cannot tear
            # one write). End the fragment so the next line starts clean; the chain goes on
            # from the last complete line, and verification reports the fragment as torn.
            _write_all(fd, b"\n")
            size += 1
        else:
            candidates = candidates[:1]  # a complete last line must be a chained event
        for last in candidates:
            try:
                record = json.loads(last)
                return int(record["seq"]), record["mac"] or GENESIS, size
            except (ValueError, KeyError, TypeError):
                continue
        if start == 0 and len(candidates) == 1:
            return 0, GENESIS, size  # the log held only the fragment
        raise ValueError(
            f"the last line of {self.path} is not a chained audit event; run "
            "`secure-secrets audit verify` and move the damaged log aside"
        )

    def close(self) -> None:
        with self._lock:
            if self._fds is not None:
                for fd in self._fds:
                    os.close(fd)
                self._fds = None


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer, e.g. when the disk fills up)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class LoggingSink:
    """Sends each event as one record to a Python logger (message: the event as JSON)."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        import logging  # only when this sink is configured (see secrets_core.lazylog)

        self.logger = logging.getLogger(options.get("logger") or "secure_secrets.audit")
        level = logging.getLevelName(str(options.get("level") or "INFO").upper())
        self.level = level if isinstance(level, int) else logging.INFO

    def emit(self, event: AuditEvent) -> None:
        self.logger.log(self.level, "%s", event.to_json(), extra={"audit_event": event.to_dict()})

    def close(self) -> None:
        pass
