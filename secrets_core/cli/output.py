"""Writing a secret value to stdout (shared by `get` and the fast path; no click)."""

from __future__ import annotations

import sys


def emit_value(value: str | bytes) -> None:
    """The exact value on stdout; a newline is added for a terminal only."""
    out = sys.stdout.buffer
    out.write(value.encode("utf-8") if isinstance(value, str) else value)
    if isinstance(value, str) and sys.stdout.isatty():
        out.write(b"\n")
    out.flush()
