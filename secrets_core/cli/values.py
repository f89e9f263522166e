"""Verbs on single secrets: set, get, delete, restore, list, history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from secrets_core.cli.errors import CONFIG, USAGE, CliError
from secrets_core.cli.output import emit_value, visible
from secrets_core.cli.state import echo_json, get_state, json_dumps, json_option, stdin_is_tty


def complete_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of secret names: silent (nothing on stderr, no audit event, no
    prompt), and empty when the store cannot be read."""
    import contextlib
    import io
    import logging

    from click.shell_completion import CompletionItem

    from secrets_core.manager import SecretsManager

    state = get_state(ctx.find_root())
    logging.disable(logging.CRITICAL)
    try:
        with (
            contextlib.redirect_stderr(io.StringIO()),
            SecretsManager(
                default_backend=state.backend,
                config_path=state.config,
                profile=state.profile,
                audit_sinks=[],  # listing names for a shell is not an access worth recording
            ) as manager,
        ):
            names = manager.list_secrets(incomplete)
    except Exception:
        return []
    finally:
        logging.disable(logging.NOTSET)
    return [CompletionItem(name) for name in names]


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


def _read_limited(from_file: Path | None) -> bytes:
    """stdin or the file, at most one byte more than a secret may hold (the manager then
    refuses it with SecretTooLargeError), so a huge input is never read whole."""
    from secrets_core.secret import MAX_VALUE_BYTES

    if from_file is None:
        return sys.stdin.buffer.read(MAX_VALUE_BYTES + 1)
    with open(from_file, "rb") as handle:
        return handle.read(MAX_VALUE_BYTES + 1)


def _line_to_keep(state: Any, name: str, backend: str) -> str | None:
    """For a dotenv backend that writes no file (the env backend without ``env_file``), the
    line that holds the value: it lives only in this process's environment, which ends now."""
    from secrets_core.dotenv_import import dotenv_backend

    target = dotenv_backend(state.manager(), backend)
    if target is None or target.dotenv_file() is not None:
        return None
    return target.dotenv_line(name)


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
@click.option("--allow-empty", is_flag=True, help="Store an empty value.")
@click.option(
    "-m",
    "--meta",
    multiple=True,
    metavar="KEY=VALUE",
    help="Custom metadata (stored in clear; backends with metadata). Repeatable.",
)
@json_option("Print {name, backend, version, event_id} as JSON.")
def set_cmd(
    name: str,
    from_file: Path | None,
    value_arg: str | None,
    binary: bool,
    keep_newline: bool,
    allow_empty: bool,
    meta: tuple[str, ...],
    as_json: bool,
) -> None:
    """Store a secret under NAME.

    The value comes from --from-file, else stdin when it is not a terminal, else a hidden
    prompt (typed twice). Text is stored as text, other bytes as bytes. A value may hold at
    most 4 MiB; an empty one is refused unless --allow-empty.
    """
    from secrets_core.names import validate_name

    state = get_state()
    validate_name(name)  # before asking for a value that would then be thrown away
    metadata = _parse_meta(meta)
    if metadata is not None:
        from secrets_core.plugin._api import Capability

        require(state.manager(), Capability.METADATA, "metadata (--meta)")
    value: str | bytes
    if value_arg is not None:
        if from_file is not None:
            raise click.UsageError("give either --value or --from-file, not both")
        state.warn("--value puts the secret in argv, visible to other users in `ps`")
        value = value_arg
        source = "--value"
    elif from_file is not None or not stdin_is_tty():
        raw = _read_limited(from_file)
        value = _decode_input(raw, binary, not keep_newline)
        del raw
        source = "the file" if from_file is not None else "stdin"
    else:
        from secrets_core.cli.prompting import ask_twice

        value = ask_twice(f"Value for {name}", allow_empty=allow_empty)
        source = "the prompt"
    if not value and not allow_empty:
        raise CliError(
            f"{source} gave an empty value; nothing was stored", USAGE, "--allow-empty stores it"
        )
    event = state.manager().store_secret(name, value, metadata=metadata)
    del value
    version = event.details.get("version")
    keep = _line_to_keep(state, name, event.backend or "")
    if as_json:
        doc = {"name": name, "backend": event.backend, "version": version,
               "event_id": event.event_id}  # fmt: skip
        echo_json(doc if keep is None else {**doc, "keep": keep})
    elif keep is not None:
        click.echo(keep)
    if keep is not None:
        state.warn(
            f"backend '{event.backend}' writes no file, so it kept the value only in the "
            "environment of this process, which ends now; keep the line printed on stdout "
            "(ciphertext; 'keep' with --json) in the environment of the program that reads it, "
            f"or configure the file it can keep values in ([backends.{event.backend}])"
        )
    elif not as_json:
        suffix = f" (version {version})" if version is not None else ""
        state.info(f"stored {name} in {event.backend}{suffix}")


def require(manager: Any, capability: Any, what: str) -> None:
    """A usage the backend cannot serve (``history``, ``--version``, ``restore``, ``--meta``
    on a backend without that capability) stops here with a hint that helps."""
    if capability not in manager.backend_capabilities():
        raise CliError(
            f"backend '{manager.default_backend}' keeps no {what}",
            CONFIG,
            "use a backend that does, e.g. --backend file",
        )


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
    if version is not None:
        from secrets_core.plugin._api import Capability

        require(manager, Capability.VERSIONS, "older versions")
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
@json_option("Print {name, backend, purged, restorable, event_id} as JSON.")
def delete_cmd(name: str, purge: bool, as_json: bool) -> None:
    """Delete NAME (a soft delete, undone by `restore`, where the backend supports it)."""
    from secrets_core.plugin._api import Capability

    state = get_state()
    manager = state.manager()
    event = manager.purge_secret(name) if purge else manager.delete_secret(name)
    restorable = not purge and Capability.SOFT_DELETE in manager.backend_capabilities()
    if as_json:
        echo_json({"name": name, "backend": event.backend, "purged": purge,
                   "restorable": restorable, "event_id": event.event_id})  # fmt: skip
    elif purge:
        state.info(f"purged {name} from {event.backend}")
    elif restorable:
        state.info(f"deleted {name} from {event.backend} (undo: secure-secrets restore {name})")
    else:
        state.info(f"deleted {name} from {event.backend}")


@click.command("restore")
@click.argument("name")
@json_option("Print {name, backend, event_id} as JSON.")
def restore_cmd(name: str, as_json: bool) -> None:
    """Undo a soft delete of NAME."""
    from secrets_core.plugin._api import Capability

    state = get_state()
    manager = state.manager()
    require(manager, Capability.SOFT_DELETE, "deleted secrets, so nothing can be restored")
    event = manager.restore_secret(name)
    if as_json:
        echo_json({"name": name, "backend": event.backend, "event_id": event.event_id})
    else:
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
    require(manager, Capability.METADATA, "versions or metadata, so it has no history")
    meta = manager.secret_metadata(name)
    if as_json:
        click.echo(json_dumps({"name": name, "backend": backend, **_metadata_dict(meta)}))
        return
    state_word = " (deleted: secure-secrets restore to undo)" if meta.deleted else ""
    click.echo(f"{name}{state_word}")
    click.echo(f"  created  {visible(meta.created)}")  # a store's fields are untrusted text
    click.echo(f"  updated  {visible(meta.updated)}")
    for key, value in sorted(meta.custom.items()):
        click.echo(f"  meta     {visible(key)}={visible(value)}")
    click.echo("  VERSION  CREATED")
    for info in sorted(meta.versions, key=lambda v: v.version, reverse=True):
        mark = "  (current)" if info.version == meta.current_version else ""
        click.echo(f"  {info.version:>7}  {visible(info.created)}{mark}")
