"""The tamper-evident audit log: an HMAC chain over JSON lines, anchored in the keyring.

Each *authenticated* line carries ``seq`` (1, 2, ...), ``prev`` (the previous authenticated
line's MAC) and ``mac`` = HMAC-SHA256(audit key, prev + "\\n" + the line's canonical JSON
without ``mac``). The audit key is a random key kept, wrapped by the KEK, in the keyring.

- The chain's start is *anchored*: the keyring holds the first authenticated line's ``seq``
  and ``mac``, itself MACed with the audit key (:func:`anchor_record`). Someone who can edit
  the log cannot move that start: a log replaced, emptied, cut at its beginning, or restarted
  from a forged start fails.
- The checkpoint file beside the log holds the last authenticated ``seq``/``mac`` (MACed), so
  cutting lines off the end fails too.
- An event written without the key (a wrong passphrase, a missing key file) is a *keyless*
  line: ``mac`` is null and it has no place in the chain, so it can neither remove, replace
  nor reorder an authenticated event. :func:`verify_log` lists such events separately.

Rotated files (``audit.jsonl.<time>``, or ``audit.jsonl.1``/``audit.jsonl-DATE`` from
logrotate) continue the same chain; :func:`log_files` finds them and orders them by their
first authenticated ``seq``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secrets_core.fsutil import read_private_file
from secrets_core.macs import hmac_sha256

if TYPE_CHECKING:
    from secrets_core.audit._events import AuditEvent

GENESIS = "0" * 64
CHECKPOINT_SIZE = 256
_ANCHOR_DOMAIN = b"secure-secrets audit anchor v1\n"


# json.dumps with these arguments would build a new encoder on every call (every event), and
# JSONEncoder.encode builds a new C encoder on every call too: the C encoder is made once here
# (no circular-reference markers: records are built from parsed JSON or by this package).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_encode = (
    None
    if _C_ENCODER is None
    else _C_ENCODER(None, _CANONICAL.default, json.encoder.encode_basestring_ascii,
                    None, ":", ",", True, False, True)
)  # fmt: skip
_string = json.encoder.encode_basestring_ascii


def canonical_text(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, ASCII."""
    if _encode is None:  # an interpreter without json's C accelerator
        return _CANONICAL.encode(value)
    return "".join(_encode(value, 0))


def canonical(record: Mapping[str, Any]) -> bytes:
    """The line's bytes: sorted keys, no spaces, ASCII (what verification re-encodes)."""
    return canonical_text(record).encode()


def _field(value: Any) -> str:
    if type(value) is str:
        return _string(value)
    return "null" if value is None else canonical_text(value)


_actor_text: tuple[object, str] = (None, "")


def event_record(
    event: AuditEvent,
    secret_name: str | None,
    seq: int | None = None,
    prev: str | None = None,
    keyless: Mapping[str, Any] | None = None,
) -> bytes:
    """``canonical(record)`` of the record a sink writes for ``event``: its
    :meth:`~AuditEvent.to_dict` with ``secret_name`` (hashed, with ``hash_names``) and, on a
    chained line, ``seq``, ``prev`` and ``keyless``. Spelt field by field in sorted key
    order, without building the dict and sorting it on every event (the same bytes: a
    property test holds it to :func:`canonical`); the actor's JSON is made once per actor."""
    global _actor_text
    actor = event.actor
    if _actor_text[0] is not actor:
        _actor_text = (actor, canonical_text(event.to_dict()["actor"]))
    details = event.details
    parts = [
        '{"actor":', _actor_text[1],
        ',"backend":', _field(event.backend),
        ',"details":', canonical_text(dict(details)) if details else "{}",
        ',"error_type":', _field(event.error_type),
        ',"event_id":', _field(event.event_id),
    ]  # fmt: skip
    if keyless is not None:
        parts += ',"keyless":', canonical_text(keyless)
    parts += ',"operation":', _field(event.operation), ',"outcome":', _field(event.outcome)
    if prev is not None:
        parts += ',"prev":', _field(prev)
    parts += ',"secret_name":', _field(secret_name)
    if seq is not None:
        parts += ',"seq":', canonical_text(seq)
    parts += ',"timestamp":', _field(event.timestamp), "}"
    return "".join(parts).encode()


def line_mac(key: bytes, record: Mapping[str, Any]) -> str:
    """The MAC of a line's record (every field but ``mac``)."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return _mac(key, str(record["prev"]), canonical(body))


def _mac(key: bytes, prev: str, body: bytes) -> str:
    return hmac_sha256(key, prev.encode() + b"\n" + body)


def sealed_line(key: bytes, prev: str, body: bytes) -> tuple[bytes, str]:
    """The line to append for a record's canonical ``body`` (which holds ``seq`` and
    ``prev``) and its MAC.

    The JSON is encoded once: ``mac`` is appended after the sorted fields, and verification
    re-encodes the other fields sorted, which gives the same bytes.
    """
    mac = _mac(key, prev, body)
    return body[:-1] + b',"mac":"' + mac.encode() + b'"}\n', mac


def keyless_line(body: bytes) -> bytes:
    """An event written without the audit key, from its record's canonical ``body``:
    outside the chain (``mac`` null, no seq)."""
    return body[:-1] + b',"mac":null}\n'


def witness(raw_lines: Sequence[bytes]) -> dict[str, Any]:
    """What an authenticated line records of the keyless lines since the previous one, so
    that they cannot be removed, edited or inserted afterwards."""
    digest = hashlib.sha256()
    for raw in raw_lines:
        digest.update(raw.rstrip(b"\n") + b"\n")
    return {"count": len(raw_lines), "sha256": digest.hexdigest()}


def checkpoint_bytes(key: bytes, seq: int, mac: str, size: int) -> bytes:
    body = f'{{"mac":"{mac}","seq":{seq},"size":{size}}}'.encode()  # == canonical(...)
    cmac = hmac_sha256(key, body)
    return (body[:-1] + b',"cmac":"' + cmac.encode() + b'"}').ljust(CHECKPOINT_SIZE - 1) + b"\n"


def read_checkpoint(path: Path, key: bytes) -> tuple[int, str] | None:
    """The (seq, mac) an authentic checkpoint records, or None (missing, unreadable, forged)."""
    try:
        state = json.loads(read_private_file(path))
        body = {k: state[k] for k in ("seq", "mac", "size")}
        good = hmac.compare_digest(
            str(state["cmac"]), hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return (int(state["seq"]), str(state["mac"])) if good else None


def anchor_record(key: bytes, seq: int, mac: str) -> dict[str, Any]:
    """The keyring's record of where the chain starts, MACed with the audit key."""
    body = {"seq": seq, "mac": mac}
    tag = hmac.new(key, _ANCHOR_DOMAIN + canonical(body), hashlib.sha256).hexdigest()
    return {**body, "tag": tag}


def check_anchor(key: bytes, record: Mapping[str, Any] | None) -> tuple[int, str] | None:
    """The (seq, mac) of an authentic anchor record; None when there is none.

    Raises ValueError for a record whose tag does not match (a forged or edited anchor)."""
    if record is None:
        return None
    try:
        expected = anchor_record(key, int(record["seq"]), str(record["mac"]))
        if hmac.compare_digest(str(record.get("tag")), expected["tag"]):
            return int(record["seq"]), str(record["mac"])
    except (KeyError, TypeError, ValueError):
        pass
    raise ValueError("the audit chain's anchor in the keyring is not authentic")


def name_digest(key: bytes, name: str) -> str:
    """A secret name as Vault's audit devices show it: an HMAC, comparable but not readable."""
    return "hmac-sha256:" + hmac.new(key, name.encode(), hashlib.sha256).hexdigest()


def parse_head(text: str) -> tuple[int, str]:
    """A head as ``audit anchor`` prints it, ``SEQ:MAC``."""
    seq, _, mac = text.strip().partition(":")
    if not seq.isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        raise ValueError(f"not a head (SEQ:MAC as `audit anchor` prints it): {text[:80]!r}")
    return int(seq), mac


# --- finding the files ------------------------------------------------------------------------


def log_files(path: Path) -> list[Path]:
    """The log's rotated files, oldest first, then the live log (if it exists).

    Rotated files are ``<name>.<anything>`` and ``<name>-<anything>`` beside the log, except
    the checkpoint, lock and compressed files; they are ordered by the ``seq`` of their first
    authenticated line (files holding none go by modification time)."""
    rotated = []
    for candidate in path.parent.glob(path.name + "[.-]*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix in ("checkpoint", "lock") or suffix.endswith((".gz", ".bz2", ".xz", ".tmp")):
            continue
        if candidate.is_file() and not candidate.is_symlink():
            rotated.append(candidate)
    rotated.sort(key=lambda p: (first_seq(p), p.stat().st_mtime_ns))
    return rotated + ([path] if path.exists() else [])


def first_seq(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("mac") is not None:
                    return int(record.get("seq") or 0)
    except OSError:
        pass
    return 1 << 62


def files_from_anchor(files: list[Path], anchor_seq: int) -> list[Path]:
    """``files`` without those wholly before the anchor: left by a retention run cut short
    after it moved the anchor (the next rotation deletes them); nothing in them is vouched."""
    while len(files) > 1 and first_seq(files[1]) <= anchor_seq:
        files = files[1:]
    return files


def first_authenticated(paths: Sequence[Path]) -> tuple[int, str] | None:
    """(seq, mac) of the first authenticated line in ``paths``, read in order."""
    for path in paths:
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("mac"), str):
                    return int(record["seq"]), record["mac"]
    return None


def last_authenticated(path: Path, key: bytes, window: int) -> tuple[int, str] | None:
    """(seq, mac) of the last authenticated line within the last ``window`` bytes of
    ``path``, if its MAC verifies."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - window))
            lines = handle.read().splitlines()
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("mac"), str):
            try:
                good = hmac.compare_digest(record["mac"], line_mac(key, record))
            except (KeyError, TypeError):
                return None
            return (int(record["seq"]), record["mac"]) if good else None
    return None
