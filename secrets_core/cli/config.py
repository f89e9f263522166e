"""``config path|show|validate``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from secrets_core.cli.errors import CONFIG, CliError
from secrets_core.cli.state import echo_json, get_state, json_dumps, json_option

if TYPE_CHECKING:
    from secrets_core.config import Settings
    from secrets_core.plugin._api import ConfigOption
    from secrets_core.plugin._registry import PluginRegistry

REDACTED = "<redacted>"


def _is_reference(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) in ({"env"}, {"file"})
        and all(isinstance(v, str) for v in value.values())
    )


def redact(table: Mapping[str, Any], schema: Mapping[str, ConfigOption] | None) -> dict[str, Any]:
    """A plugin option table fit to print: ``{ env = ".." }`` / ``{ file = ".." }``
    references are shown as such (never resolved), options marked ``secret`` are redacted,
    and so is every string of an option the schema does not know (or of an uninstalled
    plugin), since nothing says it is not a credential."""
    shown: dict[str, Any] = {}
    for key, value in table.items():
        option = schema.get(key) if schema is not None else None
        if _is_reference(value):
            shown[key] = dict(value)
        elif (option is not None and option.secret) or (
            option is None and not isinstance(value, (bool, int, float))
        ):
            shown[key] = REDACTED
        else:
            shown[key] = value
    return shown


def _schema(registry: PluginRegistry, family: str, name: str) -> Mapping[str, ConfigOption] | None:
    try:
        options: Mapping[str, ConfigOption] = registry.lookup(family, name).options
    except Exception:  # not installed: redact everything
        return None
    return options


def effective_config(settings: Settings, registry: PluginRegistry) -> dict[str, Any]:
    """The merged configuration, redacted, as nested tables."""
    doc: dict[str, Any] = {
        "config_file": str(settings.config_file) if settings.config_file else "",
        "default_backend": settings.default_backend,
        "data_dir": str(settings.data_dir),
        "log_dir": str(settings.log_dir),
        "cipher": {"name": settings.cipher},
        "kdf": dict(settings.kdf),
        "key_source": {
            "name": settings.key_source,
            **redact(
                settings.key_source_options, _schema(registry, "key source", settings.key_source)
            ),
        },
    }
    doc["backends"] = {
        name: redact(table, _schema(registry, "backend", name))
        for name, table in sorted(settings.backends.items())
    }
    audit: dict[str, Any] = {"sinks": [sink.name for sink in settings.audit_sinks]}
    for sink in settings.audit_sinks:
        audit[sink.name] = {
            "required": sink.required,
            **redact(sink.options, _schema(registry, "audit sink", sink.name)),
        }
    doc["audit"] = audit
    policy = settings.plugins
    plugins: dict[str, Any] = {"block": sorted(policy.block), "strict": policy.strict}
    if policy.allow is not None:
        plugins["allow"] = sorted(policy.allow)
    doc["plugins"] = plugins
    return doc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def to_toml(doc: Mapping[str, Any], table: str = "") -> list[str]:
    """Render nested tables as TOML (plain values first, then sub-tables)."""
    lines: list[str] = []
    subtables = []
    for key, value in doc.items():
        if isinstance(value, Mapping) and not _is_reference(value):
            subtables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in subtables:
        name = f"{table}.{key}" if table else key
        body = to_toml(value, name)
        has_plain = any(
            not (isinstance(v, Mapping) and not _is_reference(v)) for v in value.values()
        )
        if has_plain or not value:
            lines += ["", f"[{name}]"]
        lines += body
    return lines


@click.group("config")
def config_group() -> None:
    """Show where the config is, what it says, and whether it is valid."""


@config_group.command("path")
@json_option('Print {"path", "exists"} as JSON.')
def path_cmd(as_json: bool) -> None:
    """Print the path of the config file (it may not exist yet)."""
    state = get_state()
    path = state.config_path()
    if as_json:
        echo_json({"path": str(path), "exists": path.exists()})
        return
    click.echo(str(path))
    if not path.exists():
        state.info("(does not exist yet: the defaults apply; create it with secure-secrets init)")


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of TOML.")
def show_cmd(as_json: bool) -> None:
    """Print the effective configuration (file + environment + defaults), credentials
    redacted."""
    from secrets_core.plugin._registry import get_registry

    state = get_state()
    settings = state.settings()
    doc = effective_config(settings, get_registry(settings.plugins))
    if as_json:
        click.echo(json_dumps(doc))
        return
    source = doc.pop("config_file") or "none (defaults and environment)"
    click.echo(f"# effective configuration; config file: {source}")
    click.echo(f"# loadable with --config; fill in each {REDACTED} credential first")
    click.echo("\n".join(to_toml(doc)))


@config_group.command("validate")
@json_option('Print {"config_file", "ok", "problems": [...]} as JSON (exit 5 if not ok).')
def validate_cmd(as_json: bool) -> None:
    """Check the config: known keys, installed plugins, option types, credential references
    that resolve, KDF parameters within floors and ceilings. Connects to nothing."""
    from secrets_core.assembly import Assembly
    from secrets_core.errors import ConfigError

    state = get_state()
    try:
        settings = state.settings()
    except ConfigError as exc:  # a syntax or unknown-key error: the file cannot be read
        if not as_json:
            raise CliError(str(exc), CONFIG) from None
        settings = None
        problems = [str(exc)]
    if settings is not None:
        problems = Assembly(settings).validation_problems()
    config_file = settings.config_file if settings is not None else state.config_path()
    where = str(config_file) if config_file else "defaults (no config file)"
    if as_json:
        echo_json({"config_file": str(config_file) if config_file else None,
                   "ok": not problems, "problems": problems})  # fmt: skip
        if problems:
            click.get_current_context().exit(CONFIG)
        return
    if problems:
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
        raise CliError(f"{len(problems)} problem(s) in {where}", CONFIG)
    click.echo(f"config OK: {where}")
