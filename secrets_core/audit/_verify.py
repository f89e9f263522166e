"""Checking an audit log: the walk over the chain across its files, from the keyring's
anchor to the checkpoint (:func:`verify_log`), and the check retention makes before it
deletes the oldest files (:func:`checked_successor`). The format is in
:mod:`secrets_core.audit._chain`."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from secrets_core.audit._chain import (
    GENESIS,
    files_from_anchor,
    line_mac,
    log_files,
    read_checkpoint,
    witness,
)
from secrets_core.fsutil import read_private_file


def checked_successor(
    key: bytes, anchor: tuple[int, str] | None, dropped: Sequence[Path], kept: Path
) -> tuple[int, str]:
    """The first authenticated line of ``kept``, after checking that the chain runs unbroken
    from ``anchor`` through every line of ``dropped`` to it: what retention may anchor the
    chain at before deleting ``dropped``. Raises ValueError (with verify's reason) if not,
    so that deleting files never hides a gap or a forgery."""
    if anchor is not None:  # files wholly before the anchor need no check to go
        dropped = files_from_anchor([*dropped, kept], anchor[0])[:-1]
    walk = _Walk(key, anchor, None)
    try:
        for file in dropped:
            walk.new_file()
            for raw in read_private_file(file, limit=None).splitlines():
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):
                    continue  # a torn line: nothing to chain
                walk.line(record, raw)
        walk.new_file()
        for raw in read_private_file(kept, limit=None).splitlines():
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict) and isinstance(record.get("mac"), str):
                walk.line(record, raw)
                return walk.seq, walk.prev
    except _Tampered as bad:
        raise ValueError(f"{bad.reason}: {bad.problem}") from None
    raise ValueError("the file kept first holds no authenticated line")


# --- verification ---------------------------------------------------------------------------


class AuditVerification(NamedTuple):
    """The result of :func:`verify_log`.

    ``status`` is ``"ok"``; ``"keyless"`` (the chain verifies, but some lines are not
    authenticated: events written without the audit key, listed in ``keyless``, or fragments
    of cut-short writes; events from before the store had an audit key, vouched for by the
    chain's first line, are listed with ``before_key`` but leave the status "ok");
    ``"tampered"`` (``reason`` says how, ``problem`` in words, ``first_bad_line`` is 1-based
    within ``bad_file``); or ``"not_tamper_evident"`` (no
    audit key: nothing authenticates this log). ``head`` is the last authenticated
    ``(seq, mac)``; ``anchored`` says whether the keyring anchors the chain's start."""

    ok: bool
    events: int
    chained: int
    first_bad_line: int | None = None
    problem: str | None = None
    status: str = "ok"
    reason: str | None = None
    keyless: tuple[dict[str, Any], ...] = ()
    torn: int = 0
    anchored: bool = False
    head: tuple[int, str] | None = None
    bad_file: str | None = None
    files: int = 1


class _Tampered(Exception):
    def __init__(self, reason: str, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.reason, self.problem, self.line = reason, problem, line


def keyless_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """What ``verify`` reports of an event written without the key. ``witnessed_by`` is the
    seq of the authenticated line that vouches it was there (it can no longer be removed or
    edited unnoticed); ``before_key`` marks events from before the store had an audit key."""
    actor = record.get("actor") if isinstance(record.get("actor"), dict) else {}
    assert isinstance(actor, dict)
    return {
        "timestamp": record.get("timestamp"),
        "operation": record.get("operation"),
        "outcome": record.get("outcome"),
        "error_type": record.get("error_type"),
        "secret_name": record.get("secret_name"),
        "user": actor.get("user"),
        "pid": actor.get("pid"),
        "host": actor.get("host"),
        "witnessed_by": None,
        "before_key": False,
    }


class _Walk:
    """The state of one pass over the chain, across files."""

    def __init__(self, key: bytes, anchor: tuple[int, str] | None, saved: tuple[int, str] | None):
        self.key, self.anchor, self.saved = key, anchor, saved
        self.seq, self.prev = 0, GENESIS
        self.chained = self.events = self.torn = 0
        self.keyless: list[dict[str, Any]] = []
        self.pending: list[bytes] = []  # raw keyless lines since the last authenticated one
        self.saved_seen = False
        self.before_key = 0
        self.first_torn: tuple[str, int] | None = None

    def new_file(self) -> None:
        self.pending = []  # a writer in a new file vouches only for that file's lines

    def line(self, record: Any, raw: bytes) -> None:
        if not isinstance(record, dict):
            raise _Tampered("not_json", "not a JSON object")
        mac = record.get("mac")
        self.events += 1
        if mac is None:
            self.keyless.append(keyless_summary(record))
            self.pending.append(raw)
            return
        if not isinstance(mac, str) or "prev" not in record:
            raise _Tampered("mac_mismatch", "mac does not match (line edited, or forged)")
        if not hmac.compare_digest(mac, line_mac(self.key, record)):
            raise _Tampered(
                "mac_mismatch", "mac does not match (line edited, or forged without the key)"
            )
        seq = record.get("seq")
        if not isinstance(seq, int):
            raise _Tampered("sequence", "an authenticated line without a seq")
        if not self.chained:
            if self.anchor is not None and (seq, mac) != self.anchor:
                raise _Tampered(
                    "anchor_mismatch",
                    f"the chain does not start at its anchor (seq {self.anchor[0]} in the "
                    "keyring): its beginning was removed or reordered, or the chain was "
                    "restarted after the log was replaced",
                )
            if self.anchor is None and record.get("prev") != GENESIS:
                raise _Tampered("anchor_mismatch", "the chain's first line was removed")
        elif seq != self.seq + 1:
            raise _Tampered(
                "sequence", f"expected seq {self.seq + 1} (a line was removed or reordered)"
            )
        elif record.get("prev") != self.prev:
            raise _Tampered("chain_broken", "prev does not match the previous line's mac")
        self.vouch(record.get("keyless"), seq)
        self.seq, self.prev = seq, mac
        self.chained += 1
        if self.saved is not None and self.seq == self.saved[0]:
            if not hmac.compare_digest(mac, self.saved[1]):
                raise _Tampered(
                    "head_mismatch", f"seq {self.seq} differs from the saved head (log rewritten)"
                )
            self.saved_seen = True

    def vouch(self, recorded: Any, seq: int) -> None:
        """Check what an authenticated line says of the keyless lines before it."""
        if recorded is None:
            self.pending = []
            return
        if recorded != witness(self.pending):
            raise _Tampered(
                "keyless_altered",
                f"the events written without the key before seq {seq} were removed, edited "
                "or inserted after that authenticated event vouched for them",
            )
        for summary in self.keyless[len(self.keyless) - len(self.pending) :]:
            summary["witnessed_by"] = seq
            if not self.chained:
                summary["before_key"] = True
                self.before_key += 1
        self.pending = []

    def finish(self, checkpoint: Path) -> None:
        if self.anchor is not None and not self.chained:
            raise _Tampered(
                "log_replaced",
                "the keyring anchors an audit chain but the log holds no authenticated event "
                "(the log was replaced or emptied)",
            )
        if self.saved is not None and not self.saved_seen:
            raise _Tampered(
                "head_missing",
                f"the log ends at seq {self.seq}, before the saved head seq {self.saved[0]} "
                "(rolled back)"
                if self.seq < self.saved[0]
                else f"the saved head seq {self.saved[0]} is not in the log",
            )
        if self.chained or self.anchor is not None:
            self.check_checkpoint(checkpoint)

    def check_checkpoint(self, path: Path) -> None:
        try:
            state = json.loads(read_private_file(path))
        except FileNotFoundError:
            raise _Tampered("checkpoint_missing", "the checkpoint is missing") from None
        except OSError as exc:
            raise _Tampered(
                "checkpoint_unreadable", f"the checkpoint cannot be read: {exc.strerror}"
            ) from None
        except (ValueError, RecursionError):
            raise _Tampered("checkpoint_corrupt", "the checkpoint is corrupt") from None
        if not isinstance(state, dict) or state.get("cmac") is None:
            raise _Tampered(
                "checkpoint_unauthenticated",
                "the checkpoint is unauthenticated but the log is chained",
            )
        found = read_checkpoint(path, self.key)
        if found is None:
            raise _Tampered(
                "checkpoint_forged", "the checkpoint's mac does not match (forged or edited)"
            )
        seq, mac = found
        if seq > self.seq:
            raise _Tampered(
                "truncated",
                f"the log ends at seq {self.seq} but the checkpoint records seq {seq} "
                "(truncated: events were cut off the end)",
            )
        if seq == self.seq and not hmac.compare_digest(mac, self.prev):
            raise _Tampered(
                "log_replaced", "the last line differs from the one the checkpoint recorded"
            )


def verify_log(
    path: Path,
    key: bytes | None,
    anchor: tuple[int, str] | None = None,
    saved_head: tuple[int, str] | None = None,
) -> AuditVerification:
    """Check the chain across the log's files, the anchor and the checkpoint.

    ``key`` None means the store has no audit key: the result is ``not_tamper_evident``.
    ``saved_head`` (from ``audit anchor``, kept elsewhere) must be in the log: this catches
    a rollback of both the log and its checkpoint, which nothing local can."""
    checkpoint = path.with_name(path.name + ".checkpoint")
    files = log_files(path)
    if anchor is not None:
        files = files_from_anchor(files, anchor[0])
    if key is None:
        events = sum(len(read_private_file(p, limit=None).splitlines()) for p in files)
        return AuditVerification(
            False,
            events,
            0,
            problem="this log is not tamper-evident: the store has no audit key yet (create the "
            "keyring that holds one: `secure-secrets init`, or where a config file exists "
            "already, SecureSecretsManager().initialize_keys())",
            status="not_tamper_evident",
            reason="no_audit_key",
            files=len(files),
        )
    walk = _Walk(key, anchor, saved_head)
    where: tuple[str | None, int | None] = (None, None)
    try:
        if not files and checkpoint.exists():
            raise _Tampered("log_missing", "the audit log is missing but its checkpoint exists", 1)
        for file in files:
            where = (str(file), None)
            try:
                content = read_private_file(file, limit=None)
            except OSError as exc:
                raise _Tampered("unreadable", f"{file} cannot be read: {exc.strerror}") from None
            lines = content.splitlines()
            walk.new_file()
            for number, raw in enumerate(lines, 1):
                where = (str(file), number)
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):
                    if _is_torn(lines, number, walk, content.endswith(b"\n")):
                        walk.torn += 1
                        walk.first_torn = walk.first_torn or (str(file), number)
                        continue
                    raise _Tampered("not_json", "not a JSON line") from None
                walk.line(record, raw)
        where = (str(checkpoint), None)
        walk.finish(checkpoint)
    except _Tampered as bad:
        return AuditVerification(
            False,
            walk.events,
            walk.chained,
            bad.line or where[1],
            bad.problem,
            status="tampered",
            reason=bad.reason,
            keyless=tuple(walk.keyless),
            torn=walk.torn,
            anchored=anchor is not None,
            head=(walk.seq, walk.prev) if walk.chained else None,
            bad_file=where[0],
            files=len(files),
        )
    head = (walk.seq, walk.prev) if walk.chained else None
    problem = None
    without_key = len(walk.keyless) - walk.before_key
    if without_key or walk.torn:
        parts = []
        if without_key:
            parts.append(f"{without_key} events written without the audit key")
        if walk.torn:
            parts.append(
                f"{walk.torn} incomplete line(s) (a write cut short by a power cut or a full "
                "disk; that event is lost)"
            )
        problem = "; ".join(parts) + "; the authenticated chain verifies"
    return AuditVerification(
        problem is None,
        walk.events,
        walk.chained,
        walk.first_torn[1] if walk.first_torn else None,
        problem=problem,
        status="keyless" if problem else "ok",
        keyless=tuple(walk.keyless),
        torn=walk.torn,
        anchored=anchor is not None,
        head=head,
        bad_file=walk.first_torn[0] if walk.first_torn else None,
        files=len(files),
    )


def _is_torn(lines: list[bytes], number: int, walk: _Walk, terminated: bool) -> bool:
    """Whether unparseable line ``number`` (1-based) is a fragment a cut-short write left: the
    file's unterminated last line, or a line the next writer ended, whose next line carries
    on (a keyless line, or the chain from the line before the fragment). Without the key, a
    complete authenticated line cannot be made to look like this: its successor names it."""
    if number == len(lines):
        return not terminated
    try:
        following = json.loads(lines[number])
    except ValueError:
        return False
    if not isinstance(following, dict):
        return False
    if following.get("mac") is None:
        return True
    if not walk.chained:
        return following.get("prev") == GENESIS or walk.anchor is not None
    return following.get("seq") == walk.seq + 1 and following.get("prev") == walk.prev
