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

# Names that passed, so the names an application reads on every call are checked once.
# Only valid names are kept (a value pasted into the name slot is never retained), and
# at most this many.
_KNOWN_VALID_MAX = 4096
_known_valid: set[str] = set()

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
    if type(name) is str and name in _known_valid:  # exact str: a subclass could fake eq
        return name
    if not isinstance(name, str):
        raise InvalidSecretNameError(f"secret name must be a str, not {type(name).__name__}")
    if not 0 < len(name) <= MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise InvalidSecretNameError(f"invalid secret name (length {len(name)}): {RULES}")
    if type(name) is str and len(_known_valid) < _KNOWN_VALID_MAX:
        _known_valid.add(name)
    return name


def validate_prefix(prefix: object) -> str:
    """A list prefix: empty, or a valid name, optionally ending in '/'."""
    if prefix == "":
        return ""
    if isinstance(prefix, str) and prefix.endswith("/"):
        validate_name(prefix[:-1])
        return prefix
    return validate_name(prefix)
