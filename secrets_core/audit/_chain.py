"""The tamper-evident audit log: an HMAC chain over JSON lines, and a checkpoint.

Each line carries ``seq`` (1, 2, ...), ``prev`` (the previous line's MAC) and ``mac`` =
HMAC-SHA256(audit key, prev + "\\n" + the line's canonical JSON without ``mac``). The audit
key is a random key kept, wrapped by the KEK, in the keyring. Someone who can write the log
but does not hold the key cannot forge, edit, delete or reorder lines without breaking the
chain. The checkpoint file beside the log holds the last ``seq``/``mac`` (itself MACed), so
cutting lines off the end, or replacing the whole log, is detected too.

Lines written before any keyring existed (the very first operations of a new store) have
``mac: null``; once a MACed line appears, every later line must be MACed.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from secrets_core.fsutil import read_private_file

GENESIS = "0" * 64
CHECKPOINT_SIZE = 256


def canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def line_mac(key: bytes, record: Mapping[str, Any]) -> str:
    """The MAC of a line's record (every field but ``mac``)."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return _mac(key, str(record["prev"]), canonical(body))


def _mac(key: bytes, prev: str, body: bytes) -> str:
    return hmac.new(key, prev.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def sealed_line(key: bytes | None, record: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The line to append for ``record`` (which has ``seq`` and ``prev``) and its MAC.

    The JSON is encoded once: ``mac`` is appended after the sorted fields, and verification
    re-encodes the other fields sorted, which gives the same bytes.
    """
    body = canonical(record)
    mac = _mac(key, str(record["prev"]), body) if key is not None else None
    return body[:-1] + b',"mac":' + json.dumps(mac).encode() + b"}\n", mac


def checkpoint_bytes(key: bytes | None, seq: int, mac: str | None, size: int) -> bytes:
    state = json.dumps(mac)
    body = f'{{"mac":{state},"seq":{seq},"size":{size}}}'.encode()  # == canonical(...)
    cmac = hmac.new(key, body, hashlib.sha256).hexdigest() if key is not None else None
    return (body[:-1] + b',"cmac":' + json.dumps(cmac).encode() + b"}").ljust(
        CHECKPOINT_SIZE - 1
    ) + b"\n"


def name_digest(key: bytes, name: str) -> str:
    """A secret name as Vault's audit devices show it: an HMAC, comparable but not readable."""
    return "hmac-sha256:" + hmac.new(key, name.encode(), hashlib.sha256).hexdigest()


class AuditVerification(NamedTuple):
    """The result of :func:`verify_log`. ``first_bad_line`` is 1-based."""

    ok: bool
    events: int
    chained: int
    first_bad_line: int | None = None
    problem: str | None = None


def verify_log(path: Path, key: bytes) -> AuditVerification:
    """Check the chain of every line and the checkpoint; report the first problem."""
    checkpoint_path = path.with_name(path.name + ".checkpoint")
    try:
        content = read_private_file(path, limit=None)
    except FileNotFoundError:
        if checkpoint_path.exists():
            return AuditVerification(
                False, 0, 0, 1, "the audit log is missing but its checkpoint exists"
            )
        return AuditVerification(True, 0, 0)
    except OSError as exc:
        return AuditVerification(False, 0, 0, None, f"the audit log cannot be read: {exc.strerror}")
    lines = content.splitlines()
    prev, chained, seq, events = GENESIS, 0, 0, 0
    torn: list[int] = []
    for number, raw in enumerate(lines, 1):
        problem = None
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            if _is_torn(lines, number, seq, prev, content.endswith(b"\n")):
                torn.append(number)
                continue
            return AuditVerification(False, events, chained, number, "not a JSON line")
        if not isinstance(record, dict) or record.get("seq") != seq + 1:
            problem = f"expected seq {seq + 1} (a line was removed, inserted or reordered)"
        elif record.get("prev") != prev:
            problem = "prev does not match the previous line's mac (chain broken)"
        elif record.get("mac") is None:
            if chained:
                problem = "an unauthenticated line after the chain began"
        elif not hmac.compare_digest(str(record["mac"]), line_mac(key, record)):
            problem = "mac does not match (line edited, or forged without the key)"
        if problem:
            return AuditVerification(False, events, chained, number, problem)
        seq = record["seq"]
        prev = record["mac"] if record["mac"] is not None else GENESIS
        chained += record["mac"] is not None
        events += 1
    problem = _check_checkpoint(checkpoint_path, key, seq, prev)
    if problem:
        return AuditVerification(False, events, chained, len(lines) + 1, problem)
    if torn:
        return AuditVerification(
            False,
            events,
            chained,
            torn[0],
            f"{len(torn)} incomplete line(s), first at line {torn[0]}: a write cut short by a "
            "power cut or a full disk; that event is lost, every other line verifies",
        )
    return AuditVerification(True, events, chained)


def _is_torn(lines: list[bytes], number: int, seq: int, prev: str, terminated: bool) -> bool:
    """Whether unparseable line ``number`` (1-based) is a fragment a cut-short write left: the
    log's unterminated last line, or a line the next writer ended, whose next line carries
    on the chain from the line before it (as if the fragment were not there). Without the
    key, a complete line cannot be made to look like this: its successor names it."""
    if number == len(lines):
        return not terminated
    try:
        following = json.loads(lines[number])
    except ValueError:
        return False
    return (
        isinstance(following, dict)
        and following.get("seq") == seq + 1
        and following.get("prev") == prev
    )


def _check_checkpoint(path: Path, key: bytes, last_seq: int, last_mac: str) -> str | None:
    try:
        state = json.loads(read_private_file(path))
    except FileNotFoundError:
        return "the checkpoint is missing" if last_seq and last_mac != GENESIS else None
    except OSError as exc:
        return f"the checkpoint cannot be read: {exc.strerror}"
    except (ValueError, RecursionError):
        return "the checkpoint is corrupt"
    if state.get("cmac") is not None:
        body = {k: state.get(k) for k in ("seq", "mac", "size")}
        expected = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(state["cmac"]), expected):
            return "the checkpoint's mac does not match (checkpoint forged or edited)"
    elif last_mac != GENESIS:
        return "the checkpoint is unauthenticated but the log is chained"
    seq = state.get("seq")
    if not isinstance(seq, int) or seq > last_seq:
        return f"the log ends at seq {last_seq} but the checkpoint records seq {seq} (truncated)"
    if seq == last_seq and state.get("mac") not in (last_mac, None):
        return "the last line differs from the one the checkpoint recorded (log replaced)"
    return None
