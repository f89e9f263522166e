"""``run --dynamic VAR=PATH``: leased credentials for the child, from whichever backend's
plugin issues them (:class:`~secrets_core.plugin.DynamicCredentials`, a backend
descriptor's ``dynamic`` factory). The core knows the option's syntax, not the server."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl

import click

from secrets_core.cli.envnames import variable_map
from secrets_core.cli.errors import USAGE, CliError
from secrets_core.cli.state import State


def parse_dynamic(spec: str) -> tuple[str, str, dict[str, str], str | None]:
    """``VAR=PATH[?KEY=VALUE&...][#FIELD]`` -> (variable, path, params, field)."""
    variable, sep, rest = spec.partition("=")
    if not sep or not variable or not rest:
        raise click.BadParameter(
            f"expected VAR=PATH[?KEY=VALUE&...][#FIELD], got '{variable}...'",
            param_hint="--dynamic",
        )
    rest, _, field = rest.partition("#")
    path, _, query = rest.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    return variable, path, params, field or None


def credential_variables(
    variable: str, credential: Any, field: str | None, path: str
) -> dict[str, str]:
    """``VAR`` = one field, or ``VAR_<FIELD>`` for every field (names as in ``run``)."""
    fields = list(credential)
    if field is not None:
        if field not in fields:
            raise CliError(
                f"the credential at {path} has no field '{field}' (it has: {', '.join(fields)})",
                USAGE,
            )
        return {variable: field_text(credential[field])}
    names = variable_map([f"{variable}/{key}" for key in fields], "")
    return {var: field_text(credential[name.split("/", 1)[1]]) for var, name in names.items()}


def field_text(value: Any) -> str:
    """A credential field as text (JSON for anything that is not a string)."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True)


def dynamic_variables(
    state: State, specs: tuple[str, ...], taken: set[str], leases: contextlib.ExitStack
) -> dict[str, str]:
    """Read each ``--dynamic`` credential; its lease is kept renewed until ``leases`` ends
    (then revoked)."""
    parsed = [parse_dynamic(spec) for spec in specs]  # usage errors before any lease
    source = state.manager().assembly.dynamic_credentials(state.backend)
    leases.callback(source.close)
    added: dict[str, str] = {}
    for variable, path, params, field in parsed:
        credential = leases.enter_context(source.leased(path, params or None))
        for name, value in credential_variables(variable, credential, field, path).items():
            if name in taken or name in added:
                raise CliError(f"--dynamic {variable}: ${name} is already set by a secret", USAGE)
            added[name] = value
    return added
