"""The ``secure-secrets`` command line (built with click). Work in progress."""

from __future__ import annotations


def main() -> None:
    from secrets_core.cli.app import cli

    cli()
