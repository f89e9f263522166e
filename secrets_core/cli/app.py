"""Placeholder: the CLI verbs are being built (issue 7)."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """secure-secrets: manage secrets from the shell."""
