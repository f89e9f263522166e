"""Verbs on single secrets: set, get, delete, restore, list, history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from secrets_core.cli.errors import CONFIG, CliError
from secrets_core.cli.output import emit_value
from secrets_core.cli.state import get_state, json_dumps, stdin_is_tty


def complete_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of secret names (silent when the store cannot be read)."""
    from click.shell_completion import CompletionItem

    try:
        root = ctx.find_root()
        state = get_state(root)
        names = state.manager().list_secrets()
    except Exception:
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _decode_input(raw: bytes, binary: bool, strip_newline: bool) -> str | bytes:
    """UTF-8 text becomes a str (one trailing newline dropped when asked); anything else, or
    ``--binary``, is stored as the exact bytes."""
    if binary:
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if strip_newline:
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
    return text


def _parse_meta(items: tuple[str, ...]) -> dict[str, str] | None:
    if not items:
        return None
    metadata: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got '{key}...'", param_hint="--meta")
        metadata[key] = value
    return metadata


@click.command("set")
@click.argument("name", shell_complete=complete_names)
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=False, path_type=Path),
    help="Read the value from this file.",
)
@click.option(
    "--value",
    "value_arg",
    metavar="VALUE",
    help="The value itself (discouraged: argv is visible to other users in `ps`).",
)
@click.option("--binary", is_flag=True, help="Store stdin/file bytes exactly, as bytes.")
@click.option("--keep-newline", is_flag=True, help="Keep a trailing newline read from stdin/file.")
@click.option("--allow-empty", is_flag=True, help="Store an empty value from stdin/file.")
@click.option(
    "-m",
    "--meta",
    multiple=True,
    metavar="KEY=VALUE",
    help="Custom metadata (stored in clear; backends with metadata). Repeatable.",
)
def set_cmd(
    name: str,
    from_file: Path | None,
    value_arg: str | None,
    binary: bool,
    keep_newline: bool,
    allow_empty: bool,
    meta: tuple[str, ...],
) -> None:
    """Store a secret under NAME.

    The value comes from --from-file, else stdin when it is not a terminal, else a hidden
    prompt (typed twice). Text is stored as text, other bytes as bytes.
    """
    from secrets_core.names import validate_name

    state = get_state()
    validate_name(name)  # before asking for a value that would then be thrown away
    metadata = _parse_meta(meta)
    value: str | bytes
    if value_arg is not None:
        if from_file is not None:
            raise click.UsageError("give either --value or --from-file, not both")
        state.warn("--value puts the secret in argv, visible to other users in `ps`")
        value = value_arg
    elif from_file is not None or not stdin_is_tty():
        raw = from_file.read_bytes() if from_file is not None else sys.stdin.buffer.read()
        value = _decode_input(raw, binary, not keep_newline)
        del raw
        if not value and not allow_empty:
            source = "the file" if from_file is not None else "stdin"
            raise click.UsageError(
                f"{source} gave an empty value; nothing was stored (--allow-empty stores it)"
            )
    else:
        value = click.prompt(
            f"Value for {name}",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    event = state.manager().store_secret(name, value, metadata=metadata)
    del value
    version = event.details.get("version")
    suffix = f" (version {version})" if version is not None else ""
    state.info(f"stored {name} in {event.backend}{suffix}")


def _metadata_dict(meta: Any) -> dict[str, Any]:
    return {
        "created": meta.created,
        "updated": meta.updated,
        "current_version": meta.current_version,
        "versions": [{"version": v.version, "created": v.created} for v in meta.versions],
        "custom": dict(meta.custom),
        "deleted": meta.deleted,
    }


def value_json(value: str | bytes) -> dict[str, str]:
    """A value as JSON: text as is, bytes as base64."""
    if isinstance(value, str):
        return {"value": value, "encoding": "utf-8"}
    import base64

    return {"value": base64.b64encode(value).decode("ascii"), "encoding": "base64"}


@click.command("get")
@click.argument("name", shell_complete=complete_names)
@click.option("--version", "version", type=click.IntRange(min=1), help="An older version.")
@click.option("--json", "as_json", is_flag=True, help="Value and metadata as JSON.")
def get_cmd(name: str, version: int | None, as_json: bool) -> None:
    """Print the value of NAME (the exact bytes when piped)."""
    state = get_state()
    manager = state.manager()
    value = manager.retrieve_secret(name, version=version)
    if not as_json:
        emit_value(value)
        return
    from secrets_core.plugin._api import Capability

    backend = state.backend_name()
    doc: dict[str, Any] = {"name": name, "backend": backend, **value_json(value)}
    if version is not None:
        doc["version"] = version
    if Capability.METADATA in manager.backend_capabilities():
        doc["metadata"] = _metadata_dict(manager.secret_metadata(name))
    click.echo(json_dumps(doc))


@click.command("delete")
@click.argument("name", shell_complete=complete_names)
@click.option(
    "--purge", is_flag=True, help="Destroy it and every version now (no restore possible)."
)
def delete_cmd(name: str, purge: bool) -> None:
    """Delete NAME (a soft delete, undone by `restore`, where the backend supports it)."""
    state = get_state()
    manager = state.manager()
    if purge:
        event = manager.purge_secret(name)
        state.info(f"purged {name} from {event.backend}")
        return
    event = manager.delete_secret(name)
    from secrets_core.plugin._api import Capability

    if Capability.SOFT_DELETE in manager.backend_capabilities():
        state.info(f"deleted {name} from {event.backend} (undo: secure-secrets restore {name})")
    else:
        state.info(f"deleted {name} from {event.backend}")


@click.command("restore")
@click.argument("name")
def restore_cmd(name: str) -> None:
    """Undo a soft delete of NAME."""
    state = get_state()
    event = state.manager().restore_secret(name)
    state.info(f"restored {name} in {event.backend}")


@click.command("list")
@click.argument("prefix", default="", required=False)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of names.")
def list_cmd(prefix: str, as_json: bool) -> None:
    """List secret names, optionally only those starting with PREFIX."""
    state = get_state()
    names = state.manager().list_secrets(prefix)
    if as_json:
        click.echo(json_dumps(names))
    elif names:
        click.echo("\n".join(names))


@click.command("history")
@click.argument("name", shell_complete=complete_names)
@click.option("--json", "as_json", is_flag=True, help="Metadata and versions as JSON.")
def history_cmd(name: str, as_json: bool) -> None:
    """Show the versions and metadata of NAME (never the values)."""
    state = get_state()
    manager = state.manager()
    from secrets_core.plugin._api import Capability

    backend = manager.default_backend
    if Capability.METADATA not in manager.backend_capabilities():
        raise CliError(
            f"backend '{backend}' keeps no versions or metadata, so it has no history; "
            "use a backend that does, e.g. --backend file",
            CONFIG,
        )
    meta = manager.secret_metadata(name)
    if as_json:
        click.echo(json_dumps({"name": name, "backend": backend, **_metadata_dict(meta)}))
        return
    state_word = " (deleted: secure-secrets restore to undo)" if meta.deleted else ""
    click.echo(f"{name}{state_word}")
    click.echo(f"  created  {meta.created}")
    click.echo(f"  updated  {meta.updated}")
    for key, value in sorted(meta.custom.items()):
        click.echo(f"  meta     {key}={value}")
    click.echo("  VERSION  CREATED")
    for info in sorted(meta.versions, key=lambda v: v.version, reverse=True):
        mark = "  (current)" if info.version == meta.current_version else ""
        click.echo(f"  {info.version:>7}  {info.created}{mark}")
