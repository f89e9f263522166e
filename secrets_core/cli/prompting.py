"""Terminal prompts in the CLI's own style: a refused entry is an ``error: ...`` line on
stderr and the question is asked again; Ctrl-C stops the verb (exit 130)."""

from __future__ import annotations

import click

from secrets_core.cli.exitcodes import error_line


def _ask(text: str, hidden: bool) -> str:
    from click.termui import hidden_prompt_func, visible_prompt_func

    click.echo(text, nl=False, err=True)
    return (hidden_prompt_func if hidden else visible_prompt_func)("")


def refuse(reason: str) -> None:
    click.echo(error_line(reason), err=True)


def ask_twice(label: str, *, allow_empty: bool = False) -> str:
    """A hidden entry typed twice; an empty entry (unless ``allow_empty``) or two entries
    that differ are refused with the reason, and asked again."""
    while True:
        first = _ask(f"{label}: ", hidden=True)
        if not first and not allow_empty:
            refuse("the value is empty and is not stored; type a value (Ctrl-C to stop)")
            continue
        if _ask("Repeat for confirmation: ", hidden=True) == first:
            return first
        refuse("the two entries do not match; type the value again")


def choose(label: str, choices: list[str], default: str) -> str:
    """One of ``choices`` (the default on an empty answer), asked until one is given."""
    while True:
        answer = _ask(f"{label} ({', '.join(choices)}) [{default}]: ", hidden=False).strip()
        if not answer:
            return default
        if answer in choices:
            return answer
        refuse(f"'{answer}' is not one of: {', '.join(choices)}")
