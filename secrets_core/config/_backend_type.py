"""The built-in backends' names as an enum (``BackendType.FILE``), for applications; the core
itself names backends by string. Its own module: creating an enum class costs a CLI start
that never uses it about half a millisecond (``secrets_core.config`` imports it on first
use)."""

from __future__ import annotations

import enum


class BackendType(str, enum.Enum):
    """The built-in backends. Members compare equal to their plugin names (``"file"``...);
    any installed backend, including third-party ones, can also be named by string."""

    FILE = "file"
    ENV = "env"
    VAULT = "vault"

    def __str__(self) -> str:
        return self.value
