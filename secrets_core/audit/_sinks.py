"""The core's own audit sinks: a JSON-lines file and Python ``logging``."""

from __future__ import annotations

import _thread
import contextlib
import fcntl
import json
import os
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.audit._chain import (
    GENESIS,
    checkpoint_bytes,
    event_record,
    first_authenticated,
    keyless_line,
    last_authenticated,
    log_files,
    name_digest,
    read_checkpoint,
    sealed_line,
    witness,
)
from secrets_core.audit._events import AuditEvent, describe_failure
from secrets_core.defaults import audit_log_path
from secrets_core.errors import SecretsError
from secrets_core.fsutil import PRIVATE_FILE_MODE, ensure_private_dir, refuse_symlink
from secrets_core.lazylog import get_logger
from secrets_core.plugin._api import PluginContext

_TAIL_WINDOW = 65536
log = get_logger("secrets_core.audit")


def _rotated_name(path: Path) -> Path:
    """``<name>.<UTC time to the microsecond>Z``, from one reading of the clock (so names sort
    as the rotations happened), and never the name of an existing file (the caller holds the
    log's lock, so no other writer of ours rotates meanwhile)."""
    micros = time.time_ns() // 1000
    while True:
        second, fraction = divmod(micros, 1_000_000)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(second))
        target = path.with_name(f"{path.name}.{stamp}.{fraction:06d}Z")
        if not os.path.lexists(target):
            return target
        micros += 1


class JsonlSink:
    """Appends one JSON object per line to a 0600 file, HMAC-chained (see
    :mod:`secrets_core.audit`), and keeps a checkpoint of the last authenticated line beside
    it. Without the audit key an event is still appended, as a keyless line outside the chain.

    Appends from several processes are serialised with ``flock`` on the log itself, and each
    writer re-reads the last line when another process has appended since its own write. A
    log renamed away (by :meth:`_rotate`, another process, or logrotate) is noticed under the
    lock and reopened; the chain goes on in the new file from the checkpoint.
    """

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.path = Path(options.get("path") or audit_log_path(context.log_dir)).expanduser()
        self.checkpoint_path = self.path.with_name(self.path.name + ".checkpoint")
        self._path = str(self.path)  # stat()ed on every event: no Path.__fspath__ each time
        self.fsync = bool(options.get("fsync"))
        self.chain = options.get("chain", True) is not False
        self.hash_names = bool(options.get("hash_names"))
        self.rotate_bytes = int(options.get("rotate_bytes") or 0)
        self.rotate_days = float(options.get("rotate_days") or 0)
        self.keep_rotated = int(options.get("keep_rotated") or 0)
        self._audit_key = context.audit_key
        self._audit_anchor = context.audit_anchor
        self._advance_anchor = context.advance_audit_anchor
        self._key: bytes | None = None
        self._key_failed = False
        self._anchored = False
        self._fds: tuple[int, int] | None = None
        # What this sink has open, closed when it is collected (a manager dropped without
        # close() must not leak two descriptors) or by close().
        self._owned = _Descriptors()
        weakref.finalize(self, self._owned.close)
        self._fd_pid = 0
        self._log_ino = 0
        self._tail_state: _Tail | None = None
        self._born: float | None = None  # when the open log file was started (rotate_days)
        self._lock = _thread.allocate_lock()
        self.head: tuple[int, str] | None = None
        """The (seq, mac) of the last authenticated line this sink wrote."""

    def _open(self, path: Path) -> int:
        refuse_symlink(path)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags | (os.O_APPEND if path == self.path else 0), PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return fd

    def _open_log(self) -> int:
        fd = self._open(self.path)
        self._log_ino = os.fstat(fd).st_ino  # a descriptor keeps its file: looked up once
        return fd

    def _files(self) -> tuple[int, int]:
        if self._fds is None or self._fd_pid != os.getpid():
            ensure_private_dir(self.path.parent)
            self._owned.close()  # in a forked child: forgets the parent's, closes nothing
            self._adopt((self._open_log(), self._open(self.checkpoint_path)))
            self._fd_pid = os.getpid()
            self._tail_state = None
            self._born = None
        assert self._fds is not None
        return self._fds

    def check(self) -> None:
        """Raise if the log cannot be opened for appending."""
        with self._lock:
            self._files()

    def _chain_key(self) -> bytes | None:
        if self._key is None and not self._key_failed and self._audit_key is not None:
            try:
                self._key = self._audit_key()  # None until the store has a keyring
            except Exception as exc:
                # The event is recorded as a keyless line: `audit verify` lists it as written
                # without the key. The operation's own error already tells the user why.
                self._key_failed = True
                log.debug("audit key unavailable (%s); keyless event", type(exc).__name__)
        return self._key

    def emit(self, event: AuditEvent) -> None:
        key = self._chain_key() if self.chain or self.hash_names else None
        name = event.secret_name
        if self.hash_names and name is not None:
            name = name_digest(key, name) if key else "hmac-sha256:unavailable"
        with self._lock:
            if not self.chain:
                log_fd = self._files()[0]
                _write_all(log_fd, event_record(event, name) + b"\n")
                if self.fsync:
                    os.fsync(log_fd)
                return
            log_fd, checkpoint_fd, size = self._locked_log()
            try:
                if key is None:
                    _write_all(log_fd, keyless_line(event_record(event, name)))
                    if self.fsync:
                        os.fsync(log_fd)
                    return
                seq, prev, size, keyless = self._tail(log_fd, key, size)
                seq += 1
                line, mac = sealed_line(key, prev, event_record(event, name, seq, prev, keyless))
                _write_all(log_fd, line)
                if self.fsync:
                    os.fsync(log_fd)
                size += len(line)
                self._tail_state = (seq, mac, size, None)
                os.pwrite(checkpoint_fd, checkpoint_bytes(key, seq, mac, size), 0)
                self.head = (seq, mac)
            finally:
                fcntl.flock(log_fd, fcntl.LOCK_UN)
        if not self._anchored:
            self._anchor(seq, mac, prev)

    def _locked_log(self) -> tuple[int, int, int]:
        """The log's descriptors, with the log locked, and its size, after reopening a log
        renamed away (rotated here, by another process or by logrotate) and rotating when
        due."""
        while True:
            fds = self._files()
            fcntl.flock(fds[0], fcntl.LOCK_EX)
            try:
                same = os.stat(self._path).st_ino == self._log_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fcntl.flock(fds[0], fcntl.LOCK_UN)
            self._reopen_log()
        size = os.lseek(fds[0], 0, os.SEEK_END)  # cheaper than fstat, and all we need
        if (self.rotate_bytes or self.rotate_days) and self._rotation_due(fds[0], size):
            self._rotate()
            assert self._fds is not None
            return (*self._fds, 0)
        return (*fds, size)

    def _reopen_log(self) -> None:
        assert self._fds is not None
        old = self._fds[0]
        self._adopt((self._open_log(), self._fds[1]))
        os.close(old)
        self._tail_state = None  # others may have written since: re-read under the lock
        self._born = None

    def _rotation_due(self, fd: int, size: int) -> bool:
        if not size:
            return False
        if self.rotate_bytes and size >= self.rotate_bytes:
            return True
        if self.rotate_days:
            if self._born is None:
                self._born = _started(fd)
            return time.time() - self._born >= self.rotate_days * 86400
        return False

    def _rotate(self) -> None:
        """Rename the (locked) log to ``<name>.<UTC time>`` and start a new one; writers in
        other processes notice the rename under the lock and reopen."""
        assert self._fds is not None
        os.rename(self.path, _rotated_name(self.path))
        old = self._fds[0]
        new = self._open_log()
        fcntl.flock(new, fcntl.LOCK_EX)  # before the old lock goes: nobody writes in between
        self._adopt((new, self._fds[1]))
        os.close(old)
        self._tail_state = None
        self._born = None
        if self.keep_rotated:
            self._prune()

    def _prune(self) -> None:
        """Delete the rotated files beyond ``keep_rotated``, oldest first, after moving the
        keyring's anchor to the first line of the oldest file kept, and only if the chain
        runs unbroken to that line: retention never hides a gap or a forgery. The anchor
        moves first: a crash in between leaves files wholly before the anchor, which
        ``verify`` passes over and the next rotation deletes."""
        rotated = [p for p in log_files(self.path) if p != self.path]
        if len(rotated) <= self.keep_rotated:
            return
        dropped, kept = rotated[: -self.keep_rotated], rotated[-self.keep_rotated]
        from secrets_core.audit._verify import checked_successor  # only when pruning

        key, anchor_hook, advance = self._chain_key(), self._audit_anchor, self._advance_anchor
        try:
            if key is None or anchor_hook is None or advance is None:
                raise ValueError("the store has no audit key or keyring anchor")
            start = checked_successor(key, anchor_hook(None), dropped, kept)
            if advance(start) != start:
                raise ValueError("the keyring's anchor did not move")
        except (ValueError, SecretsError) as exc:
            log.warning(
                "audit log retention deleted nothing (%s); check the log: "
                "secure-secrets audit verify",
                describe_failure(exc),
            )
            return
        for path in dropped:
            path.unlink(missing_ok=True)

    def _tail(self, fd: int, key: bytes, size: int) -> _Tail:
        """seq and mac of the last authenticated line, the log's size, and the witness of
        the keyless lines after that line (None if there are none, or if they do not all fit
        in the window); re-read only if another process appended. A log with no
        authenticated line (a new file after a rotation) goes on from the checkpoint."""
        if self._tail_state is not None and self._tail_state[2] == size:
            return self._tail_state
        start = max(0, size - _TAIL_WINDOW)
        window = os.pread(fd, size - start, start) if size else b""
        if window and not window.endswith(b"\n"):
            # The last write was cut short (a power cut or a full disk; SIGKILL cannot tear
            # one write). End the fragment so the next line starts clean; the chain goes on
            # from the last complete line, and verification reports the fragment as torn.
            _write_all(fd, b"\n")
            size += 1
        keyless: list[bytes] = []
        for raw in reversed(window.splitlines()[1 if start else 0 :]):
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a fragment: verification reports it
            if not isinstance(record, dict):
                continue
            if isinstance(record.get("mac"), str):
                return int(record["seq"]), record["mac"], size, _vouch(keyless)
            keyless.insert(0, raw)
        seen = None if start else _vouch(keyless)
        found = self._previous_head(key)
        if found is not None:
            return (*found, size, seen)
        if start == 0:
            return 0, GENESIS, size, seen
        raise ValueError(
            f"the end of {self.path} holds no chained audit event and the checkpoint is not "
            "authentic; run `secure-secrets audit verify` and move the damaged log aside"
        )

    def _previous_head(self, key: bytes) -> tuple[int, str] | None:
        """Where the chain stands when the live file holds no authenticated line (it was
        just rotated): the later of the checkpoint and the newest rotated file's last
        authenticated line (the checkpoint lags if a writer died between its two writes)."""
        heads = [read_checkpoint(self.checkpoint_path, key)]
        rotated = [p for p in log_files(self.path) if p != self.path]
        if rotated:
            heads.append(last_authenticated(rotated[-1], key, _TAIL_WINDOW))
        known = [head for head in heads if head is not None]
        return max(known) if known else None

    def _anchor(self, seq: int, mac: str, prev: str) -> None:
        """Make sure the keyring anchors the chain's start (once per process)."""
        hook = self._audit_anchor
        try:
            if hook is not None and hook(None) is None:
                first = (seq, mac) if prev == GENESIS else first_authenticated(log_files(self.path))
                if first is not None:
                    hook(first)
            self._anchored = True
        except Exception as exc:  # verify reports an unanchored chain; the event is written
            log.debug("audit chain not anchored (%s)", type(exc).__name__)

    def _adopt(self, fds: tuple[int, int]) -> None:
        self._fds = fds
        self._owned.hold(fds)

    def close(self) -> None:
        with self._lock:
            if self._fds is not None:
                self._owned.close()
                self._fds = None


class _Descriptors:
    """The descriptors a sink opened, and in which process: only that process closes them (a
    forked child's copies may carry numbers the child has since reused)."""

    __slots__ = ("_pid", "_fds")

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._fds: tuple[int, ...] = ()

    def hold(self, fds: tuple[int, ...]) -> None:
        self._pid, self._fds = os.getpid(), fds

    def close(self) -> None:
        fds, self._fds = self._fds, ()
        if self._pid == os.getpid():
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)


_Tail = tuple[int, str, int, "dict[str, Any] | None"]  # seq, mac, log size, keyless witness


def _vouch(keyless: list[bytes]) -> dict[str, Any] | None:
    return witness(keyless) if keyless else None


def _started(fd: int) -> float:
    """When the log file was started: its first line's time (its mtime if unreadable)."""
    head = os.pread(fd, 4096, 0).split(b"\n", 1)[0]
    try:
        stamp = json.loads(head)["timestamp"]
        import datetime as dt

        return dt.datetime.fromisoformat(stamp).timestamp()
    except (ValueError, KeyError, TypeError):
        return os.fstat(fd).st_mtime


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer, e.g. when the disk fills up)."""
    written = os.write(fd, data)
    if written == len(data):  # nearly always: no view to make
        return
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


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
