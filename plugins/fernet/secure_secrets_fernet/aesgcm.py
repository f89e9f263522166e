"""AES-256-GCM with the associated data (the secret name) authenticated natively."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secrets_core.errors import EncryptionError, IntegrityError

_NONCE_SIZE = 12
_TAG_SIZE = 16


class AesGcmCipher:
    """Token: 12-byte random nonce || ciphertext || 16-byte tag.

    Random 96-bit nonces are safe for far more messages than one data key will see: keys are
    rotated, and each data key encrypts one store's secrets.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EncryptionError(f"aes-gcm needs a 32-byte key, got {len(key)} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "AesGcmCipher(<key hidden>)"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        if not isinstance(token, bytes) or len(token) < _NONCE_SIZE + _TAG_SIZE:
            raise IntegrityError("aes-gcm token is truncated")
        try:
            return self._aead.decrypt(token[:_NONCE_SIZE], token[_NONCE_SIZE:], associated_data)
        except (InvalidTag, ValueError, TypeError):
            raise IntegrityError(
                "aes-gcm token is invalid (tampered, truncated or wrong key)"
            ) from None
