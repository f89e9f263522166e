"""Dotenv files, parsed with python-dotenv (never by hand): read one safely, parse it with
line numbers in errors, rewrite chosen statements keeping every other line byte for byte,
write it back durably. Used by ``.env`` migration and by plugins that keep a dotenv file."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from secrets_core.errors import ConfigError
from secrets_core.fsutil import atomic_write, ensure_private_dir, read_private_file, refuse_symlink

if TYPE_CHECKING:
    from dotenv.parser import Binding


class EnvFileError(ConfigError):
    """A dotenv file cannot be parsed. The message names the file and the line number, never
    the line's content (it may hold a plaintext secret)."""


def binding_line(binding: Binding) -> int:
    """The line a binding's statement starts on (python-dotenv's mark includes the blank
    lines before it)."""
    text = binding.original.string
    leading = text[: len(text) - len(text.lstrip())]
    return binding.original.line + len(re.findall(r"\r\n|\n|\r", leading))


def parse_env_text(text: str, where: str) -> list[Binding]:
    """Parse dotenv ``text`` with python-dotenv. Unparseable statements (which python-dotenv
    itself would only warn about and skip) raise :class:`EnvFileError` with the line number.
    Concatenating the bindings' ``original.string`` gives back ``text``."""
    from dotenv.parser import parse_stream

    bindings = list(parse_stream(io.StringIO(text)))
    for binding in bindings:
        if binding.error:
            line = binding_line(binding)
            del bindings, binding, text  # keep the file's content out of traceback locals
            raise EnvFileError(
                f"{where}, line {line}: not valid dotenv syntax (KEY=value, quotes closed); "
                "fix or remove the line"
            )
    return bindings


def read_env_file(path: Path) -> str:
    """The text of a dotenv file (``""`` when it does not exist); refuses a symlink."""
    refuse_symlink(path)
    try:
        raw = read_private_file(path)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise EnvFileError(f"env file {path} cannot be read: {exc.strerror}") from None
    text = utf8(raw)
    if text is None:  # raised outside the except: the decode error holds the file's bytes
        line = raw[: _utf8_error_offset(raw)].count(b"\n") + 1
        del raw
        raise EnvFileError(f"env file {path}, line {line}: not UTF-8 text")
    return text.removeprefix("\ufeff")


def read_dotenv_values(path: Path, *, interpolate: bool = True) -> dict[str, str]:
    """The variables of a dotenv file as python-dotenv's ``dotenv_values`` reads them (quotes,
    ``export``, multi-line values; a later duplicate key wins; ``${VAR}`` expanded unless
    ``interpolate=False``), keys without ``=`` left out. A missing file, a symlink or a line
    that is not dotenv raises :class:`EnvFileError`."""
    from dotenv import dotenv_values

    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        raise EnvFileError(f"env file {path} {problem}")
    text = read_env_file(path)
    parse_error: EnvFileError | None = None
    try:
        parse_env_text(text, f"env file {path}")
    except EnvFileError as exc:
        parse_error = exc
    if parse_error is not None:
        del text  # raised outside the except, without the file's content in this frame
        raise parse_error
    values = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
    del text
    return {key: value for key, value in values.items() if value is not None}


def _utf8_error_offset(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return len(raw)


def rewrite_env_text(bindings: list[Binding], updates: Mapping[str, str | None]) -> str:
    """The parsed file with the statement of each key in ``updates`` replaced by the given full line
    (``"VAR=token"``, or a comment), or removed when the line is ``None``.

    The first statement of a key is replaced in place (the blank lines and indentation before
    it kept), later duplicates of the key are dropped, keys not present are appended; every
    other line, comment and blank line is kept byte for byte. Lines must be safe unquoted
    dotenv (tokens are)."""
    out: list[str] = []
    done: set[str] = set()
    for binding in bindings:
        original = binding.original.string
        key = binding.key
        if key is None or key not in updates:
            out.append(original)
            continue
        body = original.lstrip()
        leading = original[: len(original) - len(body)]
        eol_match = re.search(r"(\r\n|\n|\r)$", original)
        eol = eol_match.group(1) if eol_match else ""
        new = updates[key]
        if key in done or new is None:
            out.append(leading.rstrip(" \t"))
            continue
        done.add(key)
        out.append(leading + new + eol)
    joined = "".join(out)
    for key, new in updates.items():
        if new is not None and key not in done:
            if joined and not joined.endswith(("\n", "\r")):
                joined += "\n"
            joined += new + "\n"
    return joined


def write_env_file(path: Path, text: str) -> None:
    """Durably replace ``path`` with ``text``, mode 0600 whatever the umask."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    atomic_write(path, text.encode("utf-8"))


def utf8(raw: bytes) -> str | None:
    """``raw`` decoded as UTF-8, or None (without an exception that would carry the bytes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
