"""Redacted logs: mask every secret value this process retrieved, in every log record, in the
style of CI log masking.

    import secure_secrets
    secure_secrets.redact_logs()      # after logging is configured

From then on, each value a manager returns (``retrieve_secret``, references, ``run``'s
resolution) is remembered, and :class:`RedactingFilter` replaces it with ``*****`` in the
record's message, its arguments (the message is formatted once, masked, and the arguments
dropped), its exception text and its stack text.

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
import hashlib
import logging
import os
import struct
import traceback
from collections.abc import Iterable

MASK = "*****"
MASK_BYTES = MASK.encode()
GRAM = 4
MIN_LENGTH = 2 * GRAM  # every value of 2*GRAM-1 bytes or more is found; 8 like GitLab
assert struct.calcsize("I") == GRAM


class _Registry:
    """Fingerprints of retrieved values: never the values themselves. Work is done on UTF-8
    bytes (a value's bytes occur in a message's bytes exactly where the value occurs), so
    that cutting a message into grams and looking them up runs in C (a memoryview cast)."""

    def __init__(self) -> None:
        self._key = os.urandom(16)
        self._lock = _thread.allocate_lock()
        # gram (GRAM bytes read as a native unsigned int) ->
        # {(offset of the gram in the value, value length, digest of the value)}
        self.grams: dict[int, set[tuple[int, int, bytes]]] = {}

    def digest(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self._key).digest()

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
_MASKED = "_secure_secrets_masked"  # set on a record once masked (several handlers)


def remember(value: str | bytes) -> None:
    """Called by the manager for every value it returns; a no-op until :func:`redact_logs`."""
    registry = _registry
    if registry is not None:
        registry.add(value)


def mask(text: str) -> str:
    """``text`` with every value retrieved since :func:`redact_logs` masked."""
    registry = _registry
    return text if registry is None else registry.mask(text)


class RedactingFilter(logging.Filter):
    """Masks retrieved secret values in a record (message, arguments, exception and stack
    text); never drops a record. Add it to a handler to cover every record it emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        registry = _registry
        fields = record.__dict__
        if registry is None or _MASKED in fields:
            return True
        record.msg = registry.mask(record.getMessage())
        record.args = None
        fields[_MASKED] = True
        if record.exc_info or record.exc_text or record.stack_info:
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if record.exc_text:
                record.exc_text = registry.mask(record.exc_text)
            if record.stack_info:
                record.stack_info = registry.mask(record.stack_info)
        return True


_FILTER = RedactingFilter()


def _all_handlers() -> Iterable[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]  # fmt: skip
    for logger in loggers:
        yield from logger.handlers
    if logging.lastResort is not None:
        yield logging.lastResort


def redact_logs(*handlers: logging.Handler, values: Iterable[str | bytes] = ()) -> RedactingFilter:
    """Start remembering retrieved values and mask them in log records: the filter is added
    to ``handlers``, or by default to every handler configured now (of every logger, and
    logging's last-resort handler). Call it after configuring logging; add the returned
    filter to handlers created later. ``values`` are remembered as if just retrieved."""
    global _registry
    if _registry is None:
        _registry = _Registry()
    for value in values:
        _registry.add(value)
    for handler in handlers or tuple(_all_handlers()):
        handler.addFilter(_FILTER)
    return _FILTER


def stop_redacting() -> None:
    """Remove the filter from every handler and forget every remembered value."""
    global _registry
    _registry = None
    for handler in _all_handlers():
        handler.removeFilter(_FILTER)
