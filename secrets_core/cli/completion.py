"""``completion bash|zsh|fish``: print the shell completion script."""

from __future__ import annotations

import click

#: The environment variable click's completion protocol uses (set by the printed script).
COMPLETE_VAR = "_SECURE_SECRETS_COMPLETE"

SHELLS = {
    "bash": 'eval "$(secure-secrets completion bash)"  in ~/.bashrc',
    "zsh": 'eval "$(secure-secrets completion zsh)"  in ~/.zshrc',
    "fish": "secure-secrets completion fish > ~/.config/fish/completions/secure-secrets.fish",
}


INSTALL_HELP = "\b\nInstall:\n" + "\n".join(f"  {s}: {how}" for s, how in SHELLS.items())


@click.command("completion", epilog=INSTALL_HELP)
@click.argument("shell", type=click.Choice(list(SHELLS)))
def completion_cmd(shell: str) -> None:
    """Print the completion script for SHELL (verbs, options, secret names).

    Completing never writes an audit event and never prints a warning.
    """
    from click.shell_completion import get_completion_class

    from secrets_core.cli.app import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every choice is a shell click supports
    script = completion_class(cli, {}, "secure-secrets", COMPLETE_VAR).source()
    click.echo(script)
