"""HMAC-SHA256 from the key's pads hashed once.

The same value as ``hmac.new(key, message, "sha256")`` at under half its cost: OpenSSL 3
looks the digest up again on every ``hmac`` call, and every audited read makes several
(the audit chain's line and checkpoint, the cipher's token tag).
"""

from __future__ import annotations

import functools
import hashlib


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) under one key, whose pads are hashed once, here."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:
        return "HmacSha256(<key hidden>)"

    def digest(self, message: bytes | memoryview) -> bytes:
        inner, outer = self._inner.copy(), self._outer.copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=8)  # the audit key, used for every event
def _keyed(key: bytes) -> HmacSha256:
    return HmacSha256(key)


def hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``key``, in hex."""
    return _keyed(key).digest(message).hex()
