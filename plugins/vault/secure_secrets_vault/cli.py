"""``secure-secrets lease``: dynamic secrets from Vault/OpenBao (read a leased credential,
renew, revoke). A verb of this plugin, registered through ``secrets_register_commands`` and
imported only when it runs."""

from __future__ import annotations

import click

from secrets_core.cli.dynamic import credential_variables, field_text
from secrets_core.cli.state import State, echo_json, get_state, json_dumps, json_option
from secure_secrets_vault.dynamic import DynamicSecrets


def dynamic_secrets(state: State) -> DynamicSecrets:
    """A DynamicSecrets with the settings of ``[backends.<--backend or vault>]``."""
    return DynamicSecrets.from_manager(state.manager(), state.backend or "vault")


def parse_params(items: tuple[str, ...], option: str = "-p") -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got '{key}...'", param_hint=option)
        params[key] = value
    return params


@click.group("lease")
def lease_group() -> None:
    """Dynamic secrets from Vault/OpenBao: read a leased credential, renew it, revoke it.

    Uses the [backends.vault] settings (address, auth, TLS; or the table named by --backend).
    A lease is renewed until it ends; revoke it when the credential is no longer needed.
    """


@lease_group.command("read")
@click.argument("path")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A request parameter (repeatable); with any, the request is a POST.",
)
@click.option(
    "--method",
    type=click.Choice(["GET", "POST"], case_sensitive=False),
    help="Force the HTTP method (default: GET, POST with parameters).",
)
@click.option("-f", "--field", metavar="NAME", help="Print only this field's value.")
@click.option("--json", "as_json", is_flag=True, help="Print the credential and lease as JSON.")
def read_cmd(
    path: str, params: tuple[str, ...], method: str | None, field: str | None, as_json: bool
) -> None:
    """Read a dynamic credential from PATH (e.g. database/creds/readonly) and print it.

    The credential goes to stdout only, with its lease (id, duration, renewable); it is not
    stored anywhere. It stays valid until its lease expires or you revoke it.
    """
    state = get_state()
    dynamic = dynamic_secrets(state)
    try:
        credential = dynamic.read(path, parse_params(params), method=method)
    finally:
        dynamic.close()
    if field is not None:
        click.echo(credential_variables("value", credential, field, credential.path)["value"])
    elif as_json:
        lease = {"lease_id": credential.lease_id, "lease_duration": credential.lease_duration,
                 "renewable": credential.renewable}  # fmt: skip
        click.echo(json_dumps({**lease, "path": credential.path, "data": credential.reveal()}))
    else:
        rows = [("lease_id", credential.lease_id or "(none)"),
                ("lease_duration", f"{credential.lease_duration}s"),
                ("renewable", str(credential.renewable).lower())]  # fmt: skip
        rows += [(key, field_text(credential[key])) for key in credential.fields()]
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            click.echo(f"{key.ljust(width)}  {value}")
    if credential.lease_id:
        state.info(f"revoke it when done: secure-secrets lease revoke {credential.lease_id}")


@lease_group.command("renew")
@click.argument("lease_id")
@click.option("--increment", type=click.IntRange(min=1), metavar="SECONDS",
              help="The TTL to ask for (the server may grant less).")  # fmt: skip
@json_option('Print {"lease_id", "lease_duration", "renewable"} as JSON.')
def renew_cmd(lease_id: str, increment: int | None, as_json: bool) -> None:
    """Renew the lease LEASE_ID; prints the TTL granted."""
    state = get_state()
    dynamic = dynamic_secrets(state)
    try:
        lease = dynamic.renew(lease_id, increment)
    finally:
        dynamic.close()
    if as_json:
        echo_json({"lease_id": lease.lease_id, "lease_duration": lease.duration,
                   "renewable": lease.renewable})  # fmt: skip
        return
    click.echo(f"lease_id        {lease.lease_id}")
    click.echo(f"lease_duration  {lease.duration}s")
    click.echo(f"renewable       {str(lease.renewable).lower()}")


@lease_group.command("revoke")
@click.argument("lease_id")
@json_option('Print {"lease_id", "revoked": true} as JSON.')
def revoke_cmd(lease_id: str, as_json: bool) -> None:
    """Revoke the lease LEASE_ID now (the credential stops working)."""
    state = get_state()
    dynamic = dynamic_secrets(state)
    try:
        dynamic.revoke(lease_id)
    finally:
        dynamic.close()
    if as_json:
        echo_json({"lease_id": lease_id, "revoked": True})
    else:
        state.info(f"revoked {lease_id}")
