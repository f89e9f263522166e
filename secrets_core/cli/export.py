"""``export``: every secret of a backend as dotenv or JSON, in plaintext or as ciphertext."""

from __future__ import annotations

import base64
from typing import Any

import click

from secrets_core.cli.envnames import variable_map
from secrets_core.cli.errors import CONFIG, USAGE, CliError
from secrets_core.cli.state import get_state, json_dumps


def dotenv_quote(value: str) -> str:
    """A single-quoted dotenv value (python-dotenv syntax): ``\\`` and ``'`` are escaped
    with a backslash, newlines are kept, and nothing is interpolated."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text(name: str, value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(
            f"secret '{name}' holds binary data, which dotenv cannot represent; "
            "use --format json (base64)",
            USAGE,
        ) from None


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dotenv", "json"]),
    default="dotenv",
    show_default=True,
    help="Output format.",
)
@click.option("--prefix", default="", metavar="PREFIX", help="Only names starting with PREFIX.")
@click.option(
    "--ciphertext",
    is_flag=True,
    help="Export the stored (encrypted) tokens, base64, instead of the values.",
)
@click.option("--yes", is_flag=True, help="Confirm that plaintext values may be printed.")
def export_cmd(fmt: str, prefix: str, ciphertext: bool, yes: bool) -> None:
    """Print every secret (or those under PREFIX) to stdout.

    Plaintext needs --yes. dotenv uses the same variable names as `run`; JSON keeps the
    secret names. --ciphertext tokens only decrypt with this store's keyring.
    """
    state = get_state()
    if not ciphertext and not yes:
        raise CliError(
            "export prints every secret in plaintext; add --yes to confirm, or use "
            "--ciphertext to export the encrypted tokens",
            USAGE,
        )
    manager = state.manager()
    names = manager.list_secrets(prefix)
    if ciphertext:
        _export_ciphertext(state.backend_name(), names, fmt, prefix)
        return
    values = {name: manager.retrieve_secret(name) for name in names}
    if fmt == "json":
        doc: dict[str, Any] = {}
        for name, value in values.items():
            doc[name] = (
                value if isinstance(value, str) else {"base64": base64.b64encode(value).decode()}
            )
        click.echo(json_dumps(doc))
        return
    for variable, name in variable_map(names, prefix).items():
        click.echo(f"{variable}={dotenv_quote(_text(name, values[name]))}")


def _export_ciphertext(backend: str, names: list[str], fmt: str, prefix: str) -> None:
    from secrets_core.plugin._api import Capability

    state = get_state()
    manager = state.manager()
    if Capability.ENCRYPTS_AT_REST in manager.backend_capabilities():
        raise CliError(
            f"backend '{backend}' encrypts on the server and holds no client-side ciphertext; "
            "export it with the server's own tools",
            CONFIG,
        )
    tokens: dict[str, str] = {}
    for name in names:
        token = manager.read_stored(name)
        raw = token.encode("utf-8") if isinstance(token, str) else token
        tokens[name] = base64.b64encode(raw).decode("ascii")
    if fmt == "json":
        click.echo(
            json_dumps(
                {"format": "secure-secrets-ciphertext", "backend": backend, "secrets": tokens}
            )
        )
        return
    click.echo(f"# secure-secrets ciphertext export of backend '{backend}' (base64 tokens)")
    for variable, name in variable_map(names, prefix).items():
        click.echo(f"# secret: {name}")
        click.echo(f"{variable}={dotenv_quote(tokens[name])}")
