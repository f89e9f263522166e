"""A wrapper that keeps secret values out of reprs, logs, pickles and tracebacks."""

from __future__ import annotations

import hmac
from typing import NoReturn

from secrets_core.errors import InvalidSecretValueError, SecretTooLargeError

#: The largest value :meth:`SecretValue.to_store` accepts, in bytes (UTF-8 for text): 4 MiB.
#: Storing holds a few copies of a value at once (plaintext, ciphertext, base64, the record),
#: so the limit keeps a store's memory bounded; secrets are keys, passwords and certificates.
MAX_VALUE_BYTES = 4 * 1024 * 1024


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SecretValue:
    """Holds a ``str`` or ``bytes`` secret; its ``repr``/``str`` are masked.

    Call :meth:`reveal` to get the value. Pickling is refused so a value cannot leak into a
    cache or a multiprocessing queue by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        if isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        if not isinstance(value, (str, bytes)):
            kind = type(value).__name__
            del value  # a wrongly typed value may still be secret: keep it out of tracebacks
            raise InvalidSecretValueError(f"secret value must be str or bytes, not {kind}")
        if isinstance(value, str) and not value.isascii() and not _is_utf8_encodable(value):
            del value  # the encoder's error would carry the whole value: raise our own
            raise InvalidSecretValueError(
                "secret value is not valid text: it holds a lone surrogate, which UTF-8 cannot "
                "encode; pass bytes, or fix how the text was decoded"
            )
        self._value = value

    @classmethod
    def to_store(cls, value: str | bytes) -> SecretValue:
        """A value about to be stored: as the constructor, and at most
        :data:`MAX_VALUE_BYTES`, else :class:`~secrets_core.errors.SecretTooLargeError`."""
        try:
            secret = cls(value)
        finally:
            del value  # a refused value stays out of this frame's traceback locals
        held = secret._value
        if isinstance(held, bytes):
            over = len(held) > MAX_VALUE_BYTES
        else:  # UTF-8 has at most 4 bytes a character: encode only text that may be over
            over = len(held) * 4 > MAX_VALUE_BYTES and (
                len(held) > MAX_VALUE_BYTES or len(held.encode("utf-8")) > MAX_VALUE_BYTES
            )
        del held
        if over:
            del secret  # keep the value out of this frame's traceback locals
            raise SecretTooLargeError(
                f"the value is larger than {MAX_VALUE_BYTES} bytes (4 MiB), the most a secret "
                "may hold; keep large data elsewhere (e.g. an encrypted file) and store its key"
            )
        return secret

    def reveal(self) -> str | bytes:
        return self._value

    @property
    def is_text(self) -> bool:
        # getattr: repr must work on a half-built instance (traceback capture_locals).
        return isinstance(getattr(self, "_value", None), str)

    def __repr__(self) -> str:
        return f"SecretValue({'str' if self.is_text else 'bytes'}, '**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue) or self.is_text != other.is_text:
            return NotImplemented
        a, b = self._value, other._value
        a_bytes = a.encode() if isinstance(a, str) else a
        b_bytes = b.encode() if isinstance(b, str) else b
        return hmac.compare_digest(a_bytes, b_bytes)

    __hash__ = None  # type: ignore[assignment]  # mutable-free but hashing would leak equality

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretValue cannot be pickled")
