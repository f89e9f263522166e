"""Registration of the ``fernet`` cipher (``cryptography`` is imported on first use only)."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.descriptors import Cipher, CipherSpec


def _make_fernet(key: bytes) -> Cipher:
    from secure_secrets_fernet.cipher import FernetCipher

    return FernetCipher(key)


@hookimpl
def secrets_register_ciphers() -> list[CipherSpec]:
    return [
        CipherSpec(
            name="fernet",
            factory=_make_fernet,
            key_size=32,
            description="Fernet (AES-128-CBC + HMAC-SHA256), associated data bound by digest",
        )
    ]
