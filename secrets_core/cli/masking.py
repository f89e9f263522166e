"""Replace secret values in a byte stream, also when a value is split across reads."""

from __future__ import annotations

from collections.abc import Iterable

MASK = b"*****"


class Masker:
    """Feed chunks in, get masked chunks out. Bytes that could be the start of a secret are
    held back until the next chunk (or :meth:`flush`) decides."""

    def __init__(self, values: Iterable[bytes]) -> None:
        self.values = sorted({v for v in values if v}, key=len, reverse=True)
        self._pending = b""

    def _held_back(self, data: bytes) -> int:
        """Length of the longest suffix of ``data`` that is a proper prefix of a value."""
        longest = 0
        for value in self.values:
            for size in range(min(len(value) - 1, len(data)), longest, -1):
                if data.endswith(value[:size]):
                    longest = size
                    break
        return longest

    def _replace(self, data: bytes) -> bytes:
        for value in self.values:
            data = data.replace(value, MASK)
        return data

    def feed(self, chunk: bytes) -> bytes:
        data = self._replace(self._pending + chunk)
        keep = self._held_back(data)
        if keep:
            self._pending = data[-keep:]
            return data[:-keep]
        self._pending = b""
        return data

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return data
