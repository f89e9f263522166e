"""Client-side envelope format for backends that do not encrypt at rest.

A token is ``b"ss1:" + key_id + b":" + cipher_token``. The key id picks the data key without
trial decryption. The encrypted payload starts with the value's type and the secret's name,
and the name is also passed as associated data, so a token copied to another name (two
swapped files, say) fails to open with an :class:`IntegrityError`.
"""

from __future__ import annotations

import re

from secrets_core.descriptors import Cipher, RewrappingCipher
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


def rewrap(cipher: RewrappingCipher, token: bytes | str, name: str) -> bytes | None:
    """``token`` with its ciphertext re-encrypted by the cipher's server under its newest key
    (same data key id, no plaintext here), or None if it already is."""
    if isinstance(token, str):
        token = token.encode("ascii", "replace")
    key_id = key_id_of(token, name)
    inner = cipher.rewrap(token[21:], associated_data(name, key_id))
    return None if inner is None else PREFIX + key_id.encode() + b":" + inner


def open_token(
    cipher: Cipher, token: bytes | str, name: str, key_id: str | None = None
) -> SecretValue:
    """Decrypt a token and check it was sealed for ``name`` (``key_id``: the token's key id,
    if the caller already read it with :func:`key_id_of`).

    Errors are raised outside any ``except`` block and after the plaintext is dropped, so
    neither a chained exception nor this frame's traceback locals carry the value.
    """
    if isinstance(token, str):
        token = token.encode("ascii", "replace")
    if key_id is None:
        key_id = key_id_of(token, name)
    payload = _decrypt(cipher, token[21:], associated_data(name, key_id))
    if payload is None:
        raise IntegrityError(
            f"secret '{name}' failed to decrypt (tampered, truncated, or moved from another "
            "secret or store)"
        )
    problem = _header_problem(payload, name)
    if problem is None:
        is_text = payload[1] == _TYPE_TEXT
        body = payload[4 + int.from_bytes(payload[2:4], "big") :]
        del payload
        secret = _as_secret(body, is_text)
        del body
        if secret is not None:
            return secret
        problem = f"secret '{name}' holds invalid UTF-8 text"
    else:
        del payload
    raise IntegrityError(problem)


def _decrypt(cipher: Cipher, token: bytes, ad: bytes) -> bytes | None:
    try:
        return cipher.decrypt(token, ad)
    except EncryptionError:
        return None  # the cipher's exception (and its frames' locals) is dropped here


def _header_problem(payload: bytes, name: str) -> str | None:
    if len(payload) < 4 or payload[0] != _FORMAT or payload[1] not in (_TYPE_BYTES, _TYPE_TEXT):
        return f"secret '{name}' decrypted to an unknown payload format"
    name_len = int.from_bytes(payload[2:4], "big")
    if payload[4 : 4 + name_len] != name.encode():
        return f"ciphertext stored as '{name}' was sealed for another secret (swapped or copied)"
    return None


def _as_secret(body: bytes, is_text: bool) -> SecretValue | None:
    if not is_text:
        return SecretValue(body)
    try:
        return SecretValue(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None
