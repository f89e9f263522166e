"""The core's own audit sinks: a JSON-lines file and Python ``logging``."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.audit import AuditEvent
from secrets_core.descriptors import ConfigOption, PluginContext
from secrets_core.fsutil import PRIVATE_FILE_MODE, ensure_private_dir, refuse_symlink

JSONL_OPTIONS = {
    "path": ConfigOption(str, help="audit log file; default: <log_dir>/audit.jsonl"),
    "fsync": ConfigOption(bool, default=False, help="fsync after every event"),
}
LOGGING_OPTIONS = {
    "logger": ConfigOption(str, default="secure_secrets.audit", help="logger name"),
    "level": ConfigOption(str, default="INFO", help="level of the records"),
}


class JsonlSink:
    """Appends one JSON object per line to a 0600 file (opened O_APPEND, so concurrent
    processes interleave whole lines)."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.path = Path(options.get("path") or context.log_dir / "audit.jsonl").expanduser()
        self.fsync = bool(options.get("fsync"))
        self._fd: int | None = None
        self._fd_pid = 0
        self._lock = threading.Lock()

    def _open(self) -> int:
        ensure_private_dir(self.path.parent)
        refuse_symlink(self.path)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return fd

    def _fd_for_this_process(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = self._open()
            self._fd_pid = os.getpid()
        return self._fd

    def check(self) -> None:
        """Raise if the log cannot be opened for appending."""
        with self._lock:
            self._fd_for_this_process()

    def emit(self, event: AuditEvent) -> None:
        line = (event.to_json() + "\n").encode()
        with self._lock:
            fd = self._fd_for_this_process()
            os.write(fd, line)
            if self.fsync:
                os.fsync(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class LoggingSink:
    """Sends each event as one record to a Python logger (message: the event as JSON)."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.logger = logging.getLogger(options.get("logger") or "secure_secrets.audit")
        level = logging.getLevelName(str(options.get("level") or "INFO").upper())
        self.level = level if isinstance(level, int) else logging.INFO

    def emit(self, event: AuditEvent) -> None:
        self.logger.log(self.level, "%s", event.to_json(), extra={"audit_event": event.to_dict()})

    def close(self) -> None:
        pass
