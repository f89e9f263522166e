"""Registration of the ciphers and KDFs (``cryptography`` is imported on first use only)."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import CipherSpec, KdfSpec


@hookimpl
def secrets_register_ciphers() -> list[CipherSpec]:
    return [
        CipherSpec(
            name="fernet",
            factory="secure_secrets_fernet.cipher:FernetCipher",
            key_size=32,
            description="Fernet (AES-128-CBC + HMAC-SHA256), associated data bound by digest",
        ),
        CipherSpec(
            name="aes-gcm",
            factory="secure_secrets_fernet.aesgcm:AesGcmCipher",
            key_size=32,
            description="AES-256-GCM, the secret name as associated data",
        ),
    ]


@hookimpl
def secrets_register_kdfs() -> list[KdfSpec]:
    return [
        KdfSpec(
            "argon2id",
            "secure_secrets_fernet.kdfs:make_argon2id",
            "Argon2id (default; scrypt if OpenSSL lacks it)",
        ),
        KdfSpec("scrypt", "secure_secrets_fernet.kdfs:ScryptKdf", "scrypt, N >= 2^17, r = 8"),
        KdfSpec(
            "pbkdf2-sha256",
            "secure_secrets_fernet.kdfs:Pbkdf2Kdf",
            "PBKDF2-HMAC-SHA256, >= 600,000 iterations",
        ),
    ]
