"""The env backend's text format: which variable holds a secret, and how its value is written.

A secret named ``name`` lives in the variable ``PREFIX + encode(name)``
(:func:`variable_name`). The encoding keeps letters and digits, doubles ``_`` and escapes
the other allowed characters as ``_D`` (``.``), ``_H`` (``-``) and ``_S`` (``/``). It is a
prefix code, so it is reversible (:func:`secret_name_of`) and two different names never map
to the same variable; case is preserved, so variable names are case-sensitive (POSIX;
Windows folds case and is not supported). Values are stored as ``sse1:b:`` (bytes) or
``sse1:t:`` (text) followed by unpadded base64url (:func:`encode_value`): only
``[A-Za-z0-9_:-]``, safe in dotenv files, ``docker --env-file`` and Kubernetes Secrets. A
value without the marker is not ours and raises an
:class:`~secrets_core.errors.IntegrityError` naming the variable, never the value.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from secrets_core.envfile import utf8
from secrets_core.errors import ConfigError, IntegrityError, InvalidSecretNameError
from secrets_core.names import validate_name

DEFAULT_PREFIX = "SECURE_SECRET_"
"""The default variable prefix of the env backend (its ``prefix`` option)."""
TOKEN_MARKER = "sse1:"  # noqa: S105 (a format marker, not a password)
"""Every value the env backend writes starts with this marker."""

_ESCAPE = {"_": "__", ".": "_D", "-": "_H", "/": "_S"}
_UNESCAPE = {"_": "_", "D": ".", "H": "-", "S": "/"}
_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENCODED_RE = re.compile(r"[A-Za-z0-9_]+")
_KIND_BYTES, _KIND_TEXT = "b", "t"
_KIND_AT = len(TOKEN_MARKER)
_BODY_AT = _KIND_AT + 2
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Last characters allowed when 2 or 3 characters end the text (4 or 2 unused low bits).
_CANONICAL_LAST = {2: _B64URL[::16], 3: _B64URL[::4]}
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a portable variable name (``[A-Za-z_][A-Za-z0-9_]*``),
    else raise :class:`~secrets_core.errors.ConfigError`."""
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            "the env variable prefix must be non-empty and use only letters, digits and '_' "
            "(not starting with a digit), e.g. SECURE_SECRET_"
        )
    return prefix


def variable_name(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The environment variable that holds secret ``name`` in the env backend.

    >>> variable_name("billing/stripe-key.v2")
    'SECURE_SECRET_billing_Sstripe_Hkey_Dv2'
    >>> variable_name("api_key")
    'SECURE_SECRET_api__key'

    A name that is not a valid secret name (``=``, NUL, empty, ...) raises
    :class:`~secrets_core.errors.InvalidSecretNameError`.
    """
    if not isinstance(name, str) or not isinstance(prefix, str):
        validate_name(name)
        check_prefix(prefix)
    return _variable_name(name, prefix)


@functools.lru_cache(maxsize=4096)
def _variable_name(name: str, prefix: str) -> str:
    """Cached: the env backend maps the same few names on every read. Invalid names raise
    (and exceptions are not cached)."""
    validate_name(name)
    encoded = "".join(_ESCAPE.get(char, char) for char in name)
    if not _ENCODED_RE.fullmatch(encoded):  # unreachable for valid names; defence in depth
        raise InvalidSecretNameError("secret name cannot be mapped to an environment variable")
    return check_prefix(prefix) + encoded


def secret_name_of(variable: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The secret name stored in ``variable``, or None when the variable is not one of the env
    backend's (another prefix, or not a canonical encoding of a valid name)."""
    if not variable.startswith(prefix) or len(variable) == len(prefix):
        return None
    encoded = variable[len(prefix) :]
    chars: list[str] = []
    i = 0
    while i < len(encoded):
        char = encoded[i]
        if char == "_":
            decoded = _UNESCAPE.get(encoded[i + 1 : i + 2])
            if decoded is None:
                return None
            chars.append(decoded)
            i += 2
        elif char.isascii() and char.isalnum():
            chars.append(char)
            i += 1
        else:
            return None
    name = "".join(chars)
    try:
        return validate_name(name)
    except InvalidSecretNameError:
        return None


def encode_value(value: bytes | str) -> str:
    """The text form of a stored value: marker, kind (``b``/``t``), unpadded base64url."""
    if isinstance(value, str):
        kind, raw = _KIND_TEXT, value.encode("utf-8")
    else:
        kind, raw = _KIND_BYTES, bytes(value)
    return f"{TOKEN_MARKER}{kind}:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_value(text: str, variable: str) -> bytes | str:
    """Undo :func:`encode_value`. Anything else raises IntegrityError naming ``variable``
    (never the value, which could be a plaintext secret put there by hand)."""
    kind = text[_KIND_AT : _KIND_AT + 2]
    raw = _b64url_decode(text[_BODY_AT:]) if text.startswith(TOKEN_MARKER) else None
    if raw is not None and kind == "b:":
        return raw
    decoded = utf8(raw) if raw is not None and kind == "t:" else None
    if decoded is not None:
        return decoded
    # raised outside any except block: a chained decode error would carry the raw bytes
    raise IntegrityError(
        f"environment variable {variable} does not hold a valid secure-secrets token (a "
        "plaintext, foreign or corrupt value); store the secret again or remove the variable"
    )


def _b64url_decode(body: str) -> bytes | None:
    """Strict unpadded base64url: no other characters, no padding, and the unused low bits
    of a last partial character must be zero, so every token has exactly one spelling (a
    changed character never decodes to the same bytes)."""
    partial = len(body) % 4
    if partial == 1 or not _B64URL_RE.fullmatch(body):
        return None
    if partial and body[-1] not in _CANONICAL_LAST[partial]:
        return None
    # Only alphabet characters are left, so the standard decoder needs no validation pass.
    standard = body.encode("ascii").translate(_URLSAFE_TO_STANDARD) + b"=" * (-partial % 4)
    try:
        return binascii.a2b_base64(standard)
    except binascii.Error:
        return None
