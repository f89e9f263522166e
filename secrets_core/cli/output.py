"""Writing to the terminal (shared by `get` and the fast path; no click): a secret value as
it is, and text from a store, a log or a plugin with its control characters made visible."""

from __future__ import annotations

import sys


def emit_value(value: str | bytes) -> None:
    """The exact value on stdout; a newline is added for a terminal only."""
    out = sys.stdout.buffer
    out.write(value.encode("utf-8") if isinstance(value, str) else value)
    if isinstance(value, str) and sys.stdout.isatty():
        out.write(b"\n")
    out.flush()


#: C0 and C1 controls, DEL, and the Unicode line separators and bidirectional overrides: shown
#: as ``\x1b`` or ``\u202e`` so that a name, a user or a message cannot move the cursor,
#: ring the bell, retitle the terminal, fake a line or reverse the text around it.
_VISIBLE = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
    + [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def visible(text: object) -> str:
    """``text`` as one printable line: control characters escaped, never sent raw."""
    return str(text).translate(_VISIBLE)
