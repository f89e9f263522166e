"""The values this process retrieved, remembered as fingerprints so that log records can be
masked (:mod:`secrets_core.redacted_logs`). The manager calls :func:`remember` for every value
it returns; nothing is remembered until :func:`start`. This module imports no logging: it is
on the path of every ``retrieve_secret``.

What is kept in memory, and why: not the values. For each value (and each line of a
multi-line value) of at least ``MIN_LENGTH`` UTF-8 bytes, the registry keeps a keyed BLAKE2b
digest of the whole value (the key is random per process) and an index of its first
``2*GRAM-1`` bytes taken ``GRAM`` at a time, as integers. A message is checked by cutting its
bytes into ``GRAM``-byte grams at every ``GRAM``-th position (a value of ``2*GRAM-1`` bytes or
more always covers one of them) and looking them up, in C; a hit is confirmed by the digest.
The cost per record is one lookup per ``GRAM`` bytes of message, whatever the number of
values. The trade-offs: the index reveals the first 7 bytes of each value to whoever can read
this process's memory (who could read the values while the application holds them anyway);
values shorter than ``MIN_LENGTH`` bytes are not masked (they would mask ordinary words, and
are too short to be secrets); a value retrieved before :func:`redact_logs` is not known (pass
it as ``values=``); a value transformed before logging (encoded, sliced) is not recognised.
:func:`stop_redacting` forgets everything.
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Iterable

MASK = "*****"
MASK_BYTES = MASK.encode()
GRAM = 4
MIN_LENGTH = 2 * GRAM  # every value of 2*GRAM-1 bytes or more is found; 8 like GitLab


class _Registry:
    """Fingerprints of retrieved values: never the values themselves. Work is done on UTF-8
    bytes (a value's bytes occur in a message's bytes exactly where the value occurs), so
    that cutting a message into grams and looking them up runs in C (a memoryview cast)."""

    def __init__(self) -> None:
        import hashlib  # here, not at the top: this module is on every retrieve's path

        assert memoryview(bytes(GRAM)).cast("I").itemsize == GRAM
        self._blake2b = hashlib.blake2b
        self._key = os.urandom(16)
        self._lock = _thread.allocate_lock()
        # gram (GRAM bytes read as a native unsigned int) ->
        # {(offset of the gram in the value, value length, digest of the value)}
        self.grams: dict[int, set[tuple[int, int, bytes]]] = {}

    def digest(self, data: bytes) -> bytes:
        return self._blake2b(data, key=self._key).digest()

    def add(self, value: str | bytes) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return  # not text: it cannot appear as such in a log message
        pieces = {value, *(line.encode("utf-8") for line in text.splitlines())}
        with self._lock:
            for piece in pieces:
                if len(piece) < MIN_LENGTH:
                    continue
                entry = (len(piece), self.digest(piece))
                for offset in range(GRAM):
                    gram = memoryview(piece[offset : offset + GRAM]).cast("I")[0]
                    self.grams.setdefault(gram, set()).add((offset, *entry))
        del value, text, pieces

    def mask(self, text: str) -> str:
        """``text`` with every remembered value replaced by :data:`MASK`."""
        data = text.encode("utf-8", "surrogatepass")
        chunks = memoryview(data)[: len(data) - len(data) % GRAM].cast("I")
        if self.grams.keys().isdisjoint(chunks):
            return text  # the common case: no chunk of the message is a known gram
        spans: list[tuple[int, int]] = []
        for index, chunk in enumerate(chunks):
            for offset, length, digest in tuple(self.grams.get(chunk, ())):
                start = index * GRAM - offset
                if start >= 0 and self.digest(data[start : start + length]) == digest:
                    spans.append((start, start + length))
        if not spans:
            return text
        out: list[bytes] = []
        cursor = 0
        for start, stop in sorted(spans):
            if stop <= cursor:
                continue  # inside a span already masked
            out.append(data[cursor : max(start, cursor)] + MASK_BYTES)
            cursor = stop
        out.append(data[cursor:])
        return b"".join(out).decode("utf-8", "surrogatepass")


_registry: _Registry | None = None


def remember(value: str | bytes) -> None:
    """Called by the manager for every value it returns; a no-op until :func:`redact_logs`."""
    registry = _registry
    if registry is not None:
        registry.add(value)


def mask(text: str) -> str:
    """``text`` with every value retrieved since :func:`redact_logs` masked."""
    registry = _registry
    return text if registry is None else registry.mask(text)


def current() -> _Registry | None:
    """The registry while redaction is on (:func:`start`), else None."""
    return _registry


def start(values: Iterable[str | bytes] = ()) -> None:
    """Start remembering retrieved values (``values`` as if just retrieved)."""
    global _registry
    if _registry is None:
        _registry = _Registry()
    for value in values:
        _registry.add(value)


def stop() -> None:
    """Forget every remembered value and stop remembering."""
    global _registry
    _registry = None
