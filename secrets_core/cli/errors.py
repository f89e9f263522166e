"""Error reporting: one line on stderr, a documented exit code per error family.

Messages come from the library, whose errors never carry a secret value; a traceback is
printed only with ``-v``. The codes and the classification live in :mod:`.exitcodes`.
"""

from __future__ import annotations

import sys
import traceback
from typing import IO, Any

import click

from secrets_core.cli.exitcodes import (
    ACCESS_DENIED,
    AUDIT_KEYLESS,
    AUDIT_NOT_TAMPER_EVIDENT,
    CONFIG,
    FAILURE,
    INTEGRITY,
    INTERRUPTED,
    NOT_FOUND,
    OK,
    UNAVAILABLE,
    USAGE,
    classify,
    describe_unexpected,
    error_line,
)

__all__ = [
    "AUDIT_KEYLESS",
    "AUDIT_NOT_TAMPER_EVIDENT",
    "ACCESS_DENIED", "CONFIG", "FAILURE", "INTEGRITY", "INTERRUPTED", "NOT_FOUND", "OK",
    "UNAVAILABLE", "USAGE", "CliError", "classify", "error_line", "from_library", "unexpected",
]  # fmt: skip


class CliError(click.ClickException):
    """An error shown as ``error: <message> (<hint>)`` with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = FAILURE, hint: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # a ClassVar in click
        self.hint = hint

    def format_message(self) -> str:
        return error_line(self.message, self.hint).removeprefix("error: ")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(error_line(self.message, self.hint), file=file or sys.stderr)


def from_library(exc: BaseException, verbose: bool) -> CliError:
    """Convert a library error (a SecretsError) to a CliError, printing the traceback first
    when ``verbose``."""
    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    code, hint = classify(exc)
    return CliError(str(exc) or type(exc).__name__, code, hint)


def unexpected(exc: BaseException, verbose: bool) -> CliError:
    """An error that is not the library's: its type (and, for OS errors, the reason)."""
    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return CliError(describe_unexpected(exc), FAILURE)
