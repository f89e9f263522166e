"""Key-derivation functions with OWASP floors and hard ceilings.

Parameters are validated in the constructor, before any derivation: they are stored with the
keyring and so may be attacker-controlled, and a hostile header must not make us allocate
gigabytes or spin for hours. Floors follow the OWASP Password Storage Cheat Sheet.
"""

from __future__ import annotations

from collections.abc import Mapping

from secrets_core.errors import ConfigError
from secrets_core.lazylog import get_logger

log = get_logger("secure_secrets_fernet")

MiB_IN_KIB = 1024

# name: (floor, default, ceiling)
ARGON2ID_LIMITS = {
    "memory_kib": (19 * MiB_IN_KIB, 19 * MiB_IN_KIB, 1024 * MiB_IN_KIB),
    "iterations": (2, 2, 16),
    "lanes": (1, 1, 16),
}
SCRYPT_LIMITS = {
    "log2_n": (17, 17, 20),
    "r": (8, 8, 32),
    "p": (1, 1, 16),
}
SCRYPT_MAX_MEMORY = 1024 * 1024 * 1024  # 128 * n * r bytes, at most 1 GiB
PBKDF2_LIMITS = {
    "iterations": (600_000, 600_000, 10_000_000),
}


def _validated(
    kdf: str, params: Mapping[str, object], limits: Mapping[str, tuple[int, int, int]]
) -> dict[str, int]:
    unknown = sorted(set(params) - set(limits))
    if unknown:
        raise ConfigError(
            f"kdf {kdf}: unknown parameter '{unknown[0]}'; known: {', '.join(limits)}"
        )
    checked: dict[str, int] = {}
    for key, (floor, default, ceiling) in limits.items():
        value = params.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"kdf {kdf}: parameter '{key}' must be an integer")
        if value < floor:
            raise ConfigError(f"kdf {kdf}: '{key}' = {value} is below the floor {floor} (too weak)")
        if value > ceiling:
            raise ConfigError(
                f"kdf {kdf}: '{key}' = {value} is above the ceiling {ceiling} (refused before "
                "deriving, so a hostile keyring cannot exhaust memory or time)"
            )
        checked[key] = value
    return checked


def argon2_supported() -> bool:
    from cryptography.hazmat.backends.openssl.backend import backend

    return bool(backend.argon2_supported())


class Argon2idKdf:
    name = "argon2id"

    def __init__(self, params: Mapping[str, int]) -> None:
        self.params = _validated(self.name, params, ARGON2ID_LIMITS)

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        return Argon2id(
            salt=salt,
            length=length,
            iterations=self.params["iterations"],
            lanes=self.params["lanes"],
            memory_cost=self.params["memory_kib"],
        ).derive(passphrase)


class ScryptKdf:
    name = "scrypt"

    def __init__(self, params: Mapping[str, int]) -> None:
        self.params = _validated(self.name, params, SCRYPT_LIMITS)
        if 128 * (1 << self.params["log2_n"]) * self.params["r"] > SCRYPT_MAX_MEMORY:
            raise ConfigError("kdf scrypt: 128 * n * r exceeds the 1 GiB memory ceiling")

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(
            salt=salt,
            length=length,
            n=1 << self.params["log2_n"],
            r=self.params["r"],
            p=self.params["p"],
        ).derive(passphrase)


class Pbkdf2Kdf:
    name = "pbkdf2-sha256"

    def __init__(self, params: Mapping[str, int]) -> None:
        self.params = _validated(self.name, params, PBKDF2_LIMITS)

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

        return PBKDF2HMAC(
            algorithm=hashes.SHA256(),
            length=length,
            salt=salt,
            iterations=self.params["iterations"],
        ).derive(passphrase)


def make_argon2id(params: Mapping[str, int]) -> Argon2idKdf | ScryptKdf:
    """argon2id, or scrypt with a notice when this OpenSSL has no Argon2 (the returned KDF's
    ``name`` says which, and is what the keyring records)."""
    if argon2_supported():
        return Argon2idKdf(params)
    log.warning(
        "argon2id is not supported by the OpenSSL linked into cryptography; using scrypt "
        "(N=2^17, r=8) instead. Upgrade cryptography/OpenSSL to get argon2id."
    )
    return ScryptKdf({})
