"""Client-side envelope format for backends that do not encrypt at rest.

A token is ``b"ss1:" + key_id + b":" + cipher_token``. The key id picks the data key without
trial decryption. The encrypted payload starts with the value's type and the secret's name,
and the name is also passed as associated data, so a token copied to another name (two
swapped files, say) fails to open with an :class:`IntegrityError`.
"""

from __future__ import annotations

import re

from secrets_core.descriptors import Cipher
from secrets_core.errors import EncryptionError, IntegrityError
from secrets_core.secret import SecretValue

PREFIX = b"ss1:"
_KEY_ID = re.compile(rb"[0-9a-f]{16}")
_FORMAT = 1
_TYPE_BYTES, _TYPE_TEXT = 0, 1


def associated_data(name: str, key_id: str) -> bytes:
    return b"secure-secrets/v1\0" + name.encode() + b"\0" + key_id.encode()


def seal(cipher: Cipher, key_id: str, name: str, secret: SecretValue) -> bytes:
    """Encrypt ``secret`` for ``name`` under the data key ``key_id``."""
    raw = secret.reveal()
    body = raw.encode("utf-8") if isinstance(raw, str) else raw
    encoded_name = name.encode()
    header = bytes([_FORMAT, _TYPE_TEXT if secret.is_text else _TYPE_BYTES])
    header += len(encoded_name).to_bytes(2, "big") + encoded_name
    token = cipher.encrypt(header + body, associated_data(name, key_id))
    return PREFIX + key_id.encode() + b":" + token


def key_id_of(token: bytes | str, name: str) -> str:
    """The data key id a stored token was sealed with."""
    if isinstance(token, str):
        token = token.encode("ascii", "replace")
    key_id = token[len(PREFIX) : len(PREFIX) + 16]
    if not token.startswith(PREFIX) or not _KEY_ID.fullmatch(key_id) or token[20:21] != b":":
        raise IntegrityError(
            f"stored data for secret '{name}' is not a secure-secrets token (corrupt or "
            "written by another tool)"
        )
    return key_id.decode()


def open_token(cipher: Cipher, token: bytes | str, name: str) -> SecretValue:
    """Decrypt a token and check it was sealed for ``name``."""
    if isinstance(token, str):
        token = token.encode("ascii", "replace")
    key_id = key_id_of(token, name)
    try:
        payload = cipher.decrypt(token[21:], associated_data(name, key_id))
    except EncryptionError as exc:
        raise IntegrityError(
            f"secret '{name}' failed to decrypt: {exc} (tampered, truncated, or moved from "
            "another secret or store)"
        ) from None
    if len(payload) < 4 or payload[0] != _FORMAT or payload[1] not in (_TYPE_BYTES, _TYPE_TEXT):
        raise IntegrityError(f"secret '{name}' decrypted to an unknown payload format")
    name_len = int.from_bytes(payload[2:4], "big")
    if payload[4 : 4 + name_len] != name.encode():
        raise IntegrityError(
            f"ciphertext stored as '{name}' was sealed for another secret (swapped or copied)"
        )
    body = payload[4 + name_len :]
    if payload[1] == _TYPE_TEXT:
        try:
            return SecretValue(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise IntegrityError(f"secret '{name}' holds invalid UTF-8 text") from None
    return SecretValue(body)
