"""Client-side envelope format for backends that do not encrypt at rest.

A token is ``b"ss1:" + key_id + b":" + cipher_token``. The key id picks the data key without
trial decryption. The encrypted payload starts with the value's type and the secret's name,
and the name is also passed as associated data, so a token copied to another name (two
swapped files, say) fails to open with an :class:`IntegrityError`.
"""

from __future__ import annotations

import functools
import re

from secrets_core.errors import EncryptionError, IntegrityError
from secrets_core.plugin._api import Cipher, RewrappingCipher
from secrets_core.secret import SecretValue

PREFIX = b"ss1:"
#: Bytes of a token's head, ``ss1:<16 hex digits of the key id>:``; the cipher token follows.
HEAD_SIZE = len(PREFIX) + 16 + 1
_KEY_ID = re.compile(r"[0-9a-f]{16}")
# Token heads (``ss1:<key id>:``) already checked, so reads parse a head once. A store has a
# handful of data keys; only valid heads are kept.
_KNOWN_HEADS_MAX = 256
_known_heads: dict[bytes, str] = {}
_FORMAT = 1
_TYPE_BYTES, _TYPE_TEXT = 0, 1


@functools.lru_cache(maxsize=4096)  # the same few (name, key) pairs are read again and again
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
    head = token[:HEAD_SIZE]
    key_id = _known_heads.get(head)
    if key_id is not None:
        return key_id
    key_id = head[len(PREFIX) : len(PREFIX) + 16].decode("ascii", "replace")
    if not head.startswith(PREFIX) or not _KEY_ID.fullmatch(key_id) or head[-1:] != b":":
        raise IntegrityError(
            f"stored data for secret '{name}' is not a secure-secrets token (corrupt or "
            "written by another tool)"
        )
    if len(_known_heads) < _KNOWN_HEADS_MAX:
        _known_heads[head] = key_id
    return key_id


def rewrap(cipher: RewrappingCipher, token: bytes | str, name: str) -> bytes | None:
    """``token`` with its ciphertext re-encrypted by the cipher's server under its newest key
    (same data key id, no plaintext here), or None if it already is."""
    if isinstance(token, str):
        token = token.encode("ascii", "replace")
    key_id = key_id_of(token, name)
    inner = cipher.rewrap(token[HEAD_SIZE:], associated_data(name, key_id))
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
    try:
        payload = cipher.decrypt(token[HEAD_SIZE:], associated_data(name, key_id))
    except EncryptionError:
        payload = None  # the cipher's exception (and its frames' locals) is dropped here
    if payload is None:
        raise IntegrityError(
            f"secret '{name}' failed to decrypt (tampered, truncated, or moved from another "
            "secret or store)"
        )
    # Header: format, type, name length (2 bytes), name. The name was bound as associated
    # data too; checking it here as well names the swap in the error.
    encoded_name = name.encode()
    body_at = 4 + len(encoded_name)
    problem: str | None = None
    if len(payload) < 4 or payload[0] != _FORMAT or payload[1] not in (_TYPE_BYTES, _TYPE_TEXT):
        problem = f"secret '{name}' decrypted to an unknown payload format"
    elif payload[2:body_at] != len(encoded_name).to_bytes(2, "big") + encoded_name:
        problem = f"ciphertext stored as '{name}' was sealed for another secret (swapped or copied)"
    elif payload[1] == _TYPE_BYTES:
        return SecretValue(payload[body_at:])
    else:
        text = _utf8(payload, body_at)
        if text is not None:
            del payload
            return SecretValue(text)
        problem = f"secret '{name}' holds invalid UTF-8 text"
    del payload
    raise IntegrityError(problem)


def _utf8(payload: bytes, start: int) -> str | None:
    try:
        return payload[start:].decode("utf-8")
    except UnicodeDecodeError:
        return None  # raised by the caller, outside this block: nothing chained
