"""Secret name validation.

Names are checked against an allowlist before any backend sees them. A name is never used as
a filesystem path directly; backends encode it (see each backend's docs).
"""

from __future__ import annotations

import re

from secrets_core.errors import InvalidSecretNameError

MAX_NAME_LENGTH = 128
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_NAME_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")

RULES = (
    f"1 to {MAX_NAME_LENGTH} characters; letters, digits, '_', '-', '.' and '/' only; "
    "'/' separates segments, each starting with a letter, digit or '_'; "
    "no empty, '.' or '..' segments"
)


def validate_name(name: object) -> str:
    """Return ``name`` if it is an allowed secret name, else raise InvalidSecretNameError.

    The message never echoes the rejected name: a value pasted into the name slot by mistake
    must not end up in a log.
    """
    if not isinstance(name, str):
        raise InvalidSecretNameError(f"secret name must be a str, not {type(name).__name__}")
    if not 0 < len(name) <= MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise InvalidSecretNameError(f"invalid secret name (length {len(name)}): {RULES}")
    return name


def validate_prefix(prefix: object) -> str:
    """A list prefix: empty, or a valid name, optionally ending in '/'."""
    if prefix == "":
        return ""
    if isinstance(prefix, str) and prefix.endswith("/"):
        validate_name(prefix[:-1])
        return prefix
    return validate_name(prefix)
