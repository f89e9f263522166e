"""Registration of the ciphers and KDFs (``cryptography`` is imported on first use only)."""

from __future__ import annotations

from collections.abc import Mapping

from secrets_core import hookimpl
from secrets_core.plugin import Cipher, CipherSpec, Kdf, KdfSpec


def _make_fernet(key: bytes) -> Cipher:
    from secure_secrets_fernet.cipher import FernetCipher

    return FernetCipher(key)


def _make_aes_gcm(key: bytes) -> Cipher:
    from secure_secrets_fernet.aesgcm import AesGcmCipher

    return AesGcmCipher(key)


def _make_argon2id(params: Mapping[str, int]) -> Kdf:
    from secure_secrets_fernet.kdfs import make_argon2id

    return make_argon2id(params)


def _make_scrypt(params: Mapping[str, int]) -> Kdf:
    from secure_secrets_fernet.kdfs import ScryptKdf

    return ScryptKdf(params)


def _make_pbkdf2(params: Mapping[str, int]) -> Kdf:
    from secure_secrets_fernet.kdfs import Pbkdf2Kdf

    return Pbkdf2Kdf(params)


@hookimpl
def secrets_register_ciphers() -> list[CipherSpec]:
    return [
        CipherSpec(
            name="fernet",
            factory=_make_fernet,
            key_size=32,
            description="Fernet (AES-128-CBC + HMAC-SHA256), associated data bound by digest",
        ),
        CipherSpec(
            name="aes-gcm",
            factory=_make_aes_gcm,
            key_size=32,
            description="AES-256-GCM, the secret name as associated data",
        ),
    ]


@hookimpl
def secrets_register_kdfs() -> list[KdfSpec]:
    return [
        KdfSpec("argon2id", _make_argon2id, "Argon2id (default; scrypt if OpenSSL lacks it)"),
        KdfSpec("scrypt", _make_scrypt, "scrypt, N >= 2^17, r = 8"),
        KdfSpec("pbkdf2-sha256", _make_pbkdf2, "PBKDF2-HMAC-SHA256, >= 600,000 iterations"),
    ]
