"""Fernet with associated data.

Fernet authenticates everything it encrypts but has no associated-data input, so the cipher
puts a 16-byte BLAKE2b digest of the associated data in front of the plaintext and checks it
after decryption: a token presented with different associated data fails like a tampered one.

Tokens are kept as the raw Fernet bytes, not Fernet's base64 text: base64 has non-canonical
spellings (the unused low bits of the last character), so a flipped bit in the text form can
decode to the same token. In raw form every bit is covered by Fernet's HMAC.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from secrets_core.errors import EncryptionError, IntegrityError

_DIGEST_SIZE = 16


@functools.lru_cache(maxsize=1024)  # an application reads the same few secrets again and again
def _ad_digest(associated_data: bytes) -> bytes:
    return hashlib.blake2b(associated_data, digest_size=_DIGEST_SIZE).digest()


class FernetCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EncryptionError(f"fernet needs a 32-byte key, got {len(key)} bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "FernetCipher(<key hidden>)"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        token = self._fernet.encrypt(_ad_digest(associated_data) + plaintext)
        return base64.urlsafe_b64decode(token)

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        try:
            payload = self._fernet.decrypt(base64.urlsafe_b64encode(token))
        except (InvalidToken, TypeError, ValueError, binascii.Error):
            payload = None  # raised below, outside the except block: nothing chained
        if payload is None:
            raise IntegrityError("fernet token is invalid (tampered, truncated or wrong key)")
        if not hmac.compare_digest(payload[:_DIGEST_SIZE], _ad_digest(associated_data)):
            del payload  # keep the plaintext out of the traceback's locals
            raise IntegrityError("fernet token was made for different associated data")
        return payload[_DIGEST_SIZE:]
