"""The reversible mapping between keyring's ``(service, username)`` pairs and secret names.

A pair is stored under ``keyring/<service>/<username>``, each part written as the unpadded
URL-safe base64 (RFC 4648 section 5) of its UTF-8 bytes, and the empty string as ``_``:

    >>> secret_name("https://upload.pypi.org/legacy/", "__token__")
    'keyring/aHR0cHM6Ly91cGxvYWQucHlwaS5vcmcvbGVnYWN5Lw/X190b2tlbl9f'
    >>> pair_of('keyring/aHR0cHM6Ly91cGxvYWQucHlwaS5vcmcvbGVnYWN5Lw/X190b2tlbl9f')
    ('https://upload.pypi.org/legacy/', '__token__')

Why this alphabet: secret names allow letters, digits, ``_``, ``-`` and ``.`` in segments that
start with a letter, digit or ``_``; URL-safe base64 uses exactly ``A-Z a-z 0-9 - _``, it
never starts with ``-`` or ``_`` for UTF-8 input (those would need a first byte of 0xF8 or
more, which UTF-8 never produces), so ``_`` alone is free to mean the empty string. It is the
most compact reversible choice (4 characters per 3 bytes; base32 would take 8 per 5 and
overflow the 128-character name limit for 20 Cyrillic letters). Names are case-sensitive in
every backend, as the allowlist is.
"""

from __future__ import annotations

import base64
import functools

PREFIX = "keyring/"
_EMPTY = "_"


def encode_part(text: str) -> str:
    """One part of a pair as a name segment."""
    if not text:
        return _EMPTY
    raw = text.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_part(segment: str) -> str:
    """The inverse of :func:`encode_part`."""
    if segment == _EMPTY:
        return ""
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded).decode("utf-8", "surrogatepass")


def service_prefix(service: str) -> str:
    """The prefix every username of ``service`` is stored under (ends in ``/``)."""
    return f"{PREFIX}{encode_part(service)}/"


@functools.lru_cache(maxsize=1024)  # a tool asks for the same few pairs again and again
def secret_name(service: str, username: str) -> str:
    """The secret name holding the password of ``username`` at ``service``."""
    return service_prefix(service) + encode_part(username)


def pair_of(name: str) -> tuple[str, str]:
    """The ``(service, username)`` stored under ``name``; ValueError if ``name`` is not one
    :func:`secret_name` makes."""
    head, service, username = name.split("/") if name.count("/") == 2 else ("", "", "")
    if head + "/" != PREFIX or not service or not username:
        raise ValueError("not a keyring secret name (keyring/<service>/<username>)")
    try:
        return decode_part(service), decode_part(username)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a keyring secret name (a part is not URL-safe base64)") from None
