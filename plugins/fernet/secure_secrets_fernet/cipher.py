"""Fernet with associated data.

Fernet authenticates everything it encrypts but has no associated-data input, so the cipher
puts a 16-byte BLAKE2b digest of the associated data in front of the plaintext and checks it
after decryption: a token presented with different associated data fails like a tampered one.

Tokens are kept as the raw Fernet bytes, not Fernet's base64 text: base64 has non-canonical
spellings (the unused low bits of the last character), so a flipped bit in the text form can
decode to the same token. In raw form every bit is covered by Fernet's HMAC.

Both directions follow the Fernet spec directly on the raw bytes, with the library's AES and
a HMAC-SHA256 whose pads are hashed once: sealing is version, time, a random IV, AES-128-CBC
of the PKCS#7-padded plaintext and the tag over all of it; opening checks the tag first, in
constant time, then decrypts and unpads. Every read and write skips a base64 round trip and
the library's per-call setup. The tests hold both to the library: each token sealed here
opens with ``Fernet.decrypt`` to the same plaintext, and opening accepts exactly the tokens
the library accepts, valid and altered alike.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secrets_core.errors import EncryptionError, IntegrityError
from secrets_core.macs import HmacSha256

_DIGEST_SIZE = 16
# version (1) + timestamp (8) + IV (16) + at least one AES block (16) + HMAC-SHA256 tag (32)
_VERSION, _TAG, _BLOCK = 0x80, 32, 16
_VERSION_BYTE = bytes((_VERSION,))
_MIN_TOKEN = 1 + 8 + 16 + _BLOCK + _TAG


@functools.lru_cache(maxsize=1024)  # an application reads the same few secrets again and again
def _ad_digest(associated_data: bytes) -> bytes:
    return hashlib.blake2b(associated_data, digest_size=_DIGEST_SIZE).digest()


class FernetCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EncryptionError(f"fernet needs a 32-byte key, got {len(key)} bytes")
        self._mac = HmacSha256(key[:16])  # Fernet's split of its 32-byte key
        self._aes = algorithms.AES(key[16:])

    def __repr__(self) -> str:
        return "FernetCipher(<key hidden>)"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """A raw Fernet token (the spec's bytes, not its base64 text) of the associated data's
        digest followed by ``plaintext``."""
        size = _DIGEST_SIZE + len(plaintext)
        pad = _BLOCK - size % _BLOCK  # PKCS#7: 1 to 16 bytes, each the pad's length
        iv = os.urandom(16)
        encryptor = Cipher(self._aes, modes.CBC(iv)).encryptor()
        body = (
            _VERSION_BYTE
            + int(time.time()).to_bytes(8, "big")
            + iv
            + encryptor.update(_ad_digest(associated_data) + plaintext + bytes((pad,)) * pad)
            + encryptor.finalize()
        )
        return body + self._mac.digest(body)

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        payload = self._open(token)
        if payload is None:
            raise IntegrityError("fernet token is invalid (tampered, truncated or wrong key)")
        if not hmac.compare_digest(payload[:_DIGEST_SIZE], _ad_digest(associated_data)):
            del payload  # keep the plaintext out of the traceback's locals
            raise IntegrityError("fernet token was made for different associated data")
        return payload[_DIGEST_SIZE:]

    def _open(self, token: bytes) -> bytes | None:
        """The plaintext of a raw Fernet token, or None for any invalid one (the spec's
        checks, in its order: nothing is decrypted before the tag matches)."""
        if (
            not isinstance(token, bytes)
            or len(token) < _MIN_TOKEN
            or token[0] != _VERSION
            or (len(token) - _TAG - 25) % _BLOCK
        ):
            return None
        tag = self._mac.digest(token[:-_TAG])
        if not hmac.compare_digest(tag, token[-_TAG:]):
            return None
        decryptor = Cipher(self._aes, modes.CBC(token[9:25])).decryptor()
        padded = decryptor.update(token[25:-_TAG]) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
            return None  # cannot happen for a token with a valid tag, but never trusted
        return padded[:-pad]
