"""The on-disk record: one file per secret holding every retained version and its metadata.

Layout (integers big-endian)::

    0    4  magic  b"SSF4" (b"SSF3", b"SSF2": the formats of earlier versions, see below)
    4   32  keyed BLAKE2b-256 (personalization b"ss-file-record"), under the keyring's record
            key, of the file name's stem (ASCII), b"/", then every byte from offset 36 to the
            end of the file (SSF3: HMAC-SHA256 of those bytes alone, under the same key;
            SSF2: plain SHA-256 of them)
    36  15  ">HIBII": name length, current version, current value type (0 bytes, 1 text),
            current value length, metadata length
    51   .  the secret's name (UTF-8)
    .    .  the current value
    .    .  metadata, compact JSON: {"created", "updated", "custom", "versions":
            [[version, created, type, length], ...]} oldest first, the current one last
    .    .  the older values, oldest first, in the order of "versions"

The MAC covers the name, every version, their order and the metadata, so any truncated,
flipped, reordered or forged byte is an :class:`IntegrityError` (making an older retained
version current, or editing metadata, needs the key); the stored name makes a file copied or
renamed onto another secret's file one too, and SSF4's MAC also binds the file's stem (the
base32 of the name, never the suffix, which a soft delete renames), so a bulk scan checks a
record against its file name with the MAC alone. Reading the current value parses only the fixed
header (no JSON), so a read is one open, one read, one keyed hash (BLAKE2b in one pass: half
what HMAC-SHA256, two passes, cost SSF3 records).

SSF3 records (HMAC-SHA256 under the same record key) are authenticated and read as they are;
every write, a rotation's included, rewrites them as SSF4. SSF2 records (unkeyed checksum,
written before record MACs) are read while the keyring says legacy records may remain
(:class:`~secrets_core.plugin.RecordKey`), and are likewise rewritten as SSF4. Without a record
key (a backend built by hand, with no keyring behind it) records are written as SSF2.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Callable
from typing import Any

from secrets_core.errors import IntegrityError, KeyNotAvailableError
from secrets_core.macs import Blake2bMac, HmacSha256
from secrets_core.plugin import RecordKey

MAGIC = b"SSF4"
HMAC_MAGIC = b"SSF3"
LEGACY_MAGIC = b"SSF2"
_MAGICS = (MAGIC, HMAC_MAGIC, LEGACY_MAGIC)
_PERSON = b"ss-file-record"  # BLAKE2b personalization: this key's MACs mean records
_STEM_END = b"/"  # ends the stem in the MAC's input: never in a file name
_DIGEST_SIZE = 32
_FIXED = struct.Struct(">HIBII")
_HEAD = struct.Struct(">4s32sHIBII")  # magic, MAC and the fixed fields: one unpack
_BODY_START = len(MAGIC) + _DIGEST_SIZE
_HEADER_END = _BODY_START + _FIXED.size
_TYPE_BYTES, _TYPE_TEXT = 0, 1
_TYPES = (_TYPE_BYTES, _TYPE_TEXT)
_META_JSON = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps makes one a call


class Authenticator:
    """The record key of one store: fetched from ``provider`` (the plugin context's
    ``record_key``) on first use and kept; None without a provider or a keyring.

    :meth:`mac` is :class:`~secrets_core.macs.Blake2bMac` (SSF4), keyed once, so a record
    costs one BLAKE2b pass, less than the unkeyed SHA-256 checksum of SSF2 did."""

    __slots__ = ("_provider", "_mac", "_hmac")

    def __init__(self, provider: Callable[[], RecordKey | None] | None) -> None:
        self._provider = provider
        self._mac: Blake2bMac | None = None
        self._hmac: HmacSha256 | None = None  # SSF3's, for records written before SSF4

    def has_key(self) -> bool:
        """Whether there is a record key (asked for once, then kept)."""
        if self._mac is None and self._provider is not None:
            found = self._provider()
            if found is not None:
                self._hmac = HmacSha256(found.key)
                self._mac = Blake2bMac(found.key, _PERSON)
        return self._mac is not None

    def keyed(self) -> Blake2bMac | None:
        """The record key's MAC, or None if there is no record key (for a bulk scan, which
        asks once)."""
        self.has_key()
        return self._mac

    def mac(self, body: bytes | memoryview, stem: bytes, magic: bytes = MAGIC) -> bytes | None:
        """The MAC under the record key of a record of format ``magic`` whose bytes after the
        MAC are ``body``, in the file named ``stem`` + suffix: SSF4's BLAKE2b of stem, "/" and
        body, or SSF3's HMAC-SHA256 of the body. None if there is no record key."""
        if self._mac is None and not self.has_key():
            return None
        if magic == MAGIC:
            assert self._mac is not None
            return self._mac.digest(stem, _STEM_END, body)  # hashlib takes any buffer: no copy
        assert self._hmac is not None
        return self._hmac.digest(body)

    def check_legacy(self, name: str, file: str) -> None:
        """Refuse an unkeyed (SSF2) record once the keyring says none can be genuine; asked
        afresh each time (only such records pay for it), so a rotation in another process
        takes effect at once."""
        found = None if self._provider is None else self._provider()
        if found is not None and not found.legacy_readable:
            raise IntegrityError(
                f"the file of secret '{name}' ({file}) is in the unauthenticated format of "
                "earlier versions, but every record of this keyring's stores has been "
                "authenticated since it was made or last rotated: it was rewritten without "
                "the key (a downgrade); it was not read. Restore it from a backup, or purge "
                "the secret and store it again"
            )


class StoredVersion:
    """One retained version. The value is ciphertext when written by the manager; it is kept
    out of ``repr`` all the same."""

    __slots__ = ("version", "created", "value")

    def __init__(self, version: int, created: str, value: bytes | str) -> None:
        self.version = version
        self.created = created
        self.value = value

    def __repr__(self) -> str:
        return f"StoredVersion(version={self.version}, created={self.created!r})"


class Record:
    """Everything stored for one secret. ``versions`` is oldest first; the last is current."""

    __slots__ = ("name", "created", "updated", "custom", "versions", "legacy")

    def __init__(
        self,
        name: str,
        created: str,
        updated: str,
        custom: dict[str, str] | None = None,
        versions: list[StoredVersion] | None = None,
    ) -> None:
        self.name = name
        self.created = created
        self.updated = updated
        self.custom = {} if custom is None else custom
        self.versions = [] if versions is None else versions
        self.legacy = False  # read from an SSF2 or SSF3 file: rewrite it as SSF4

    @property
    def current(self) -> StoredVersion:
        return self.versions[-1]


def _value_bytes(value: bytes | str) -> tuple[int, bytes]:
    if isinstance(value, str):
        return _TYPE_TEXT, value.encode("utf-8")
    return _TYPE_BYTES, bytes(value)


def _stem(file: str) -> bytes:
    """The stem of a record's file name (ASCII base32), as SSF4's MAC binds it."""
    return file[: file.rindex(".")].encode("ascii", "replace")


def encode(record: Record, file: str, auth: Authenticator) -> bytes:
    """The contents of ``file`` for ``record`` (which must hold at least one version): SSF4
    with a record key, SSF2 without one."""
    encoded = [_value_bytes(v.value) for v in record.versions]
    meta = _META_JSON.encode(
        {
            "created": record.created,
            "updated": record.updated,
            "custom": record.custom,
            "versions": [
                [v.version, v.created, kind, len(data)]
                for v, (kind, data) in zip(record.versions, encoded, strict=True)
            ],
        }
    ).encode("ascii")
    name = record.name.encode("utf-8")
    current_type, current = encoded[-1]
    body = b"".join(
        [
            _FIXED.pack(len(name), record.current.version, current_type, len(current), len(meta)),
            name,
            current,
            meta,
            *(data for _kind, data in encoded[:-1]),
        ]
    )
    mac = auth.mac(body, _stem(file))
    if mac is None:
        return LEGACY_MAGIC + hashlib.sha256(body).digest() + body
    return MAGIC + mac + body


def appended(
    raw: bytes, name: str, file: str, auth: Authenticator, value: bytes | str, now: str, keep: int
) -> tuple[bytes, int] | None:
    """The contents of ``file`` after ``value`` is written as a new version of the SSF4
    record ``raw`` (every byte checked, as :func:`decode` does), keeping the newest ``keep``
    versions, and the new version's number: what :func:`encode` makes of the decoded record
    with the version appended, built by splicing the retained values' bytes instead of
    decoding each one (a write's CPU work runs between fsyncs, where it costs double). None
    if ``raw`` is an older format: decode and encode it."""
    header = _checked_header(raw, name, file, auth)
    if raw[:4] != MAGIC:
        return None
    version, _kind, length, meta_len, start = header
    meta, entries = _checked_layout(raw, name, file, header)
    meta_start = start + length
    older_start = meta_start + meta_len
    new_kind, data = _value_bytes(value)
    number = version + 1
    entries.append([number, now, new_kind, len(data)])
    drop = max(0, len(entries) - keep)
    # Every old version's bytes in the order of the version list: the older ones, then the
    # old current one; the dropped (oldest) ones are a prefix of that.
    olders = raw[older_start:] + raw[start:meta_start]
    olders = olders[sum(entry[3] for entry in entries[:drop]) :]
    new_meta = _META_JSON.encode(
        {
            "created": meta["created"],
            "updated": now,
            "custom": meta["custom"],
            "versions": entries[drop:],
        }
    ).encode("ascii")
    name_bytes = raw[_HEADER_END:start]
    body = b"".join(
        [
            _FIXED.pack(len(name_bytes), number, new_kind, len(data), len(new_meta)),
            name_bytes,
            data,
            new_meta,
            olders,
        ]
    )
    mac = auth.mac(body, _stem(file))
    assert mac is not None  # an SSF4 record verified: there is a key
    return MAGIC + mac + body, number


def _another_record(name: str, file: str, or_else: str) -> IntegrityError:
    return IntegrityError(
        f"the file of secret '{name}' ({file}) holds another secret's record (copied or "
        f"renamed onto it){or_else}; it was not read"
    )


def _corrupt(name: str, file: str, what: str) -> IntegrityError:
    return IntegrityError(
        f"the file of secret '{name}' ({file}) is corrupt: {what}; it was not read as empty. "
        "Restore it from a backup, or purge the secret and store it again"
    )


def _as_value(kind: int, data: bytes, name: str, file: str) -> bytes | str:
    if kind == _TYPE_BYTES:
        return data
    if kind == _TYPE_TEXT:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _corrupt(name, file, "a text value is not UTF-8") from None
    raise _corrupt(name, file, "unknown value type")


def _checked_header(
    raw: bytes, name: str, file: str, auth: Authenticator
) -> tuple[int, int, int, int, int]:
    """Verify magic, MAC (or legacy checksum) and stored name; return the fixed fields and
    the offset of the current value."""
    magic = raw[:4]
    if len(raw) < _HEADER_END or magic not in _MAGICS:
        raise _corrupt(name, file, "truncated or not a secure-secrets record")
    name_len, version, kind, length, meta_len = _FIXED.unpack_from(raw, _BODY_START)
    start = _HEADER_END + name_len
    other_name = start <= len(raw) and raw[_HEADER_END:start] != name.encode("utf-8")
    if magic != LEGACY_MAGIC:
        mac = auth.mac(memoryview(raw)[_BODY_START:], _stem(file), magic)
        if mac is None:
            if hashlib.sha256(memoryview(raw)[_BODY_START:]).digest() == raw[4:_BODY_START]:
                # An unkeyed record whose format marker was altered: corrupt, not keyed.
                raise _corrupt(name, file, "its format marker was altered")
            raise KeyNotAvailableError(
                f"the file of secret '{name}' ({file}) is authenticated with the keyring's "
                "record key, and there is no keyring here; restore keyring.json from backup"
            )
        if not hmac.compare_digest(mac, raw[4:_BODY_START]):
            if other_name:  # SSF4's MAC binds the file: a record copied here fails it
                raise _another_record(name, file, " or was altered")
            raise _corrupt(name, file, "it fails authentication (truncated, altered or forged)")
    else:
        if hashlib.sha256(memoryview(raw)[_BODY_START:]).digest() != raw[4:_BODY_START]:
            raise _corrupt(name, file, "checksum mismatch (truncated or altered)")
        auth.check_legacy(name, file)
    if other_name:
        raise _another_record(name, file, "")
    if start + length + meta_len > len(raw):
        raise _corrupt(name, file, "lengths exceed the file")
    return version, kind, length, meta_len, start


def current_value(raw: bytes, name: str, file: str, auth: Authenticator) -> tuple[int, bytes | str]:
    """The current version number and value, parsing only the fixed header."""
    version, kind, length, _meta_len, start = _checked_header(raw, name, file, auth)
    return version, _as_value(kind, raw[start : start + length], name, file)


def every_value(raw: bytes, name: str, file: str, auth: Authenticator) -> list[bytes | str]:
    """Every retained version's value, oldest first. A record with one version (nothing after
    its metadata) is read from the fixed header alone, like :func:`current_value`."""
    header = _checked_header(raw, name, file, auth)
    _version, kind, length, meta_len, start = header
    if start + length + meta_len == len(raw):
        return [_as_value(kind, raw[start : start + length], name, file)]
    return [stored.value for stored in _parse(raw, name, file, header).versions]


def bulk_values(
    raws: list[bytes | None], stems: list[bytes], mac: Blake2bMac
) -> list[tuple[bytes, bytes] | None]:
    """:func:`every_value` for a bulk scan, a batch at a time, in one pass for the common
    record: SSF4, one version, bytes, with a MAC under ``mac`` (:meth:`Authenticator.keyed`)
    that verifies for its file's stem (which proves it is that file's record: no name
    decoding). Per raw record, its stored name (UTF-8) and value; None for anything else,
    valid or not (not read, an older format, several versions, text, a bad MAC, another
    file's record): the caller then reads it through :func:`every_value`, which raises what a
    read would. One loop with no call per record but the MAC's: the inner loop of
    ``verify-keys``."""
    found: list[tuple[bytes, bytes] | None] = []
    unpack, new_state, equal = _HEAD.unpack_from, mac.state, hmac.compare_digest
    for raw, stem in zip(raws, stems, strict=True):
        if raw is None or len(raw) < _HEADER_END:
            found.append(None)
            continue
        magic, tag, name_len, _version, kind, length, meta_len = unpack(raw)
        start = _HEADER_END + name_len
        if magic != MAGIC or kind != _TYPE_BYTES or start + length + meta_len != len(raw):
            found.append(None)
            continue
        state = new_state()  # Authenticator.mac's SSF4 MAC, inline
        state.update(stem + _STEM_END)
        state.update(raw[_BODY_START:])  # a slice: cheaper than a memoryview at this size
        if equal(state.digest(), tag):
            found.append((raw[_HEADER_END:start], raw[start : start + length]))
        else:
            found.append(None)
    return found


def current_version(raw: bytes) -> int | None:
    """The current version number, or None if ``raw`` is not a whole record (no checks beyond
    the magic: used only to describe the state after a failed write)."""
    if len(raw) < _HEADER_END or raw[:4] not in _MAGICS:
        return None
    return int(_FIXED.unpack_from(raw, _BODY_START)[1])


def decode(raw: bytes, name: str, file: str, auth: Authenticator) -> Record:
    """The whole record, every byte checked."""
    record = _parse(raw, name, file, _checked_header(raw, name, file, auth))
    record.legacy = raw[:4] != MAGIC
    return record


def _parse(raw: bytes, name: str, file: str, header: tuple[int, int, int, int, int]) -> Record:
    """The whole record of ``raw``, whose ``header`` :func:`_checked_header` has verified."""
    version, kind, length, meta_len, start = header
    meta, entries = _checked_layout(raw, name, file, header)
    meta_start = start + length
    offset = meta_start + meta_len
    versions = []
    for number, created, entry_kind, entry_len in entries[:-1]:
        data = raw[offset : offset + entry_len]
        offset += entry_len
        versions.append(StoredVersion(number, created, _as_value(entry_kind, data, name, file)))
    current = _as_value(kind, raw[start:meta_start], name, file)
    versions.append(StoredVersion(version, entries[-1][1], current))
    return Record(name, meta["created"], meta["updated"], meta["custom"], versions)


def _checked_layout(
    raw: bytes, name: str, file: str, header: tuple[int, int, int, int, int]
) -> tuple[dict[str, Any], list[list[Any]]]:
    """The metadata and version list of ``raw``, whose ``header`` :func:`_checked_header` has
    verified, checked against the header and the file size."""
    version, kind, length, meta_len, start = header
    meta_start = start + length
    try:
        meta = json.loads(raw[meta_start : meta_start + meta_len])
    except ValueError:
        raise _corrupt(name, file, "metadata is not JSON") from None
    entries = _checked_meta(meta, name, file)
    if entries[-1] != [version, entries[-1][1], kind, length]:
        raise _corrupt(name, file, "the current version does not match the version list")
    if meta_start + meta_len + sum(entry[3] for entry in entries[:-1]) != len(raw):
        raise _corrupt(name, file, "the version lengths do not add up to the file size")
    return meta, entries


def _checked_meta(meta: Any, name: str, file: str) -> list[list[Any]]:
    if not (
        isinstance(meta, dict)
        and isinstance(meta.get("created"), str)
        and isinstance(meta.get("updated"), str)
        and isinstance(meta.get("custom"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in meta["custom"].items())
        and isinstance(meta.get("versions"), list)
        and meta["versions"]
    ):
        raise _corrupt(name, file, "malformed metadata")
    entries: list[list[Any]] = meta["versions"]
    previous = 0
    for entry in entries:
        if type(entry) is not list or len(entry) != 4:
            raise _corrupt(name, file, "malformed version list")
        number, created, kind, length = entry
        if not (
            type(number) is int
            and number > previous
            and type(created) is str
            and kind in _TYPES
            and type(length) is int
            and length >= 0
        ):
            raise _corrupt(name, file, "malformed version list")
        previous = number
    return entries
