"""Configuration: one TOML file, environment variables, constructor arguments.

Precedence, highest first: constructor arguments, environment variables, the config file,
built-in defaults. The file lives at ``platformdirs.user_config_path("secure-secrets") /
"config.toml"`` unless ``SECURE_SECRETS_CONFIG`` names another path. Errors name the file and
the key and never echo a value. See docs/configuration.md for every key.
"""

from __future__ import annotations

import enum
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from secrets_core import defaults
from secrets_core.defaults import (
    DEFAULT_AUDIT_SINKS,
    DEFAULT_BACKEND,
    DEFAULT_CIPHER,
    DEFAULT_KEY_SOURCE,
    ENV_AUDIT_SINKS,
    ENV_CIPHER,
    ENV_CONFIG,
    ENV_DATA_DIR,
    ENV_DEFAULT_BACKEND,
    ENV_KEY_SOURCE,
    ENV_LOG_DIR,
    ENV_PLUGINS_ALLOW,
    ENV_PLUGINS_BLOCK,
    ENV_PLUGINS_STRICT,
    ENV_PROFILE,
)
from secrets_core.errors import ConfigError
from secrets_core.fsutil import MAX_READ_BYTES, open_regular_file
from secrets_core.plugin._api import PluginContext
from secrets_core.plugin._registry import PluginPolicy
from secrets_core.records import Record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_TOP_LEVEL_KEYS = {
    "default_backend", "data_dir", "log_dir", "backends", "cipher", "kdf", "key_source",
    "audit", "plugins", "profiles", "policies",
}  # fmt: skip


def plugin_name(name: str | enum.Enum) -> str:
    """The plain string name of a plugin given as a str or an enum member."""
    return str(name.value) if isinstance(name, enum.Enum) else str(name)


class AccessPolicy(Record):
    """Which names a scoped handle may read and write: exact names, or prefixes ending in
    ``/``; ``"*"`` means every name."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def allows(self, name: str, write: bool) -> bool:
        patterns = self.write if write else self.read + self.write
        return any(
            p == "*" or p == name or (p.endswith("/") and name.startswith(p)) for p in patterns
        )


class AuditSinkConfig(Record):
    name: str
    required: bool
    options: Mapping[str, Any]


class Settings(Record):
    """The merged configuration a manager runs with."""

    config_file: Path | None
    default_backend: str
    data_dir: Path
    log_dir: Path
    backends: Mapping[str, Mapping[str, Any]]
    cipher: str
    kdf: Mapping[str, Any]
    key_source: str
    key_source_options: Mapping[str, Any]
    audit_sinks: tuple[AuditSinkConfig, ...]
    audit_tables: frozenset[str] = frozenset()  # every [audit.NAME] in the file, to check names
    plugins: PluginPolicy = PluginPolicy()
    profile: str | None = None
    profiles: tuple[str, ...] = ()  # every profile the config file defines
    policies: Mapping[str, AccessPolicy] = MappingProxyType({})

    @property
    def context(self) -> PluginContext:
        return PluginContext(
            data_dir=self.data_dir, log_dir=self.log_dir, config_file=self.config_file
        )


def default_config_path() -> Path:
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    return defaults.user_config_dir() / defaults.CONFIG_FILE


def read_config_file(path: Path, *, must_exist: bool) -> dict[str, Any]:
    """Parse the TOML file; a missing default file is an empty config. The file can name
    commands to run and key sources, so, like ssh, it is refused when others may write it."""
    try:
        fd = open_regular_file(path)
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(
                f"config file {path} does not exist (named by {ENV_CONFIG} or config_path); "
                "create it or unset the override"
            ) from None
        return {}
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        _check_trusted(path, os.fstat(handle.fileno()))
        raw = handle.read(MAX_READ_BYTES + 1)
    if len(raw) > MAX_READ_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_READ_BYTES} bytes")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message has a line/column and no document content.
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except (UnicodeDecodeError, RecursionError):
        raise ConfigError(
            f"config file {path} is not valid TOML (not UTF-8, or nested too deeply)"
        ) from None


def _check_trusted(path: Path, info: os.stat_result) -> None:
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"config file {path} is writable by other users, who could make it run commands "
            f"or change key sources; run: chmod go-w {path}"
        )
    owner = os.geteuid() if hasattr(os, "geteuid") else info.st_uid
    if info.st_uid not in (owner, 0):
        raise ConfigError(
            f"config file {path} is owned by uid {info.st_uid}, not by you; use a config file "
            "you own (chown it, or copy it)"
        )


def _env_list(var: str) -> list[str] | None:
    raw = os.environ.get(var)
    if not raw or not raw.strip():  # empty means unset, as for every other variable
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def _env_bool(var: str) -> bool | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"environment variable {var} must be true or false")


class _Reader:
    """Typed access to the raw config table with error messages that name file and key."""

    def __init__(self, raw: Mapping[str, Any], origin: Path | None) -> None:
        self.raw = raw
        self.origin = origin

    def fail(self, key: str, problem: str) -> ConfigError:
        where = f" in {self.origin}" if self.origin else ""
        return ConfigError(f"config key '{key}'{where}: {problem}")

    def get(self, table: Mapping[str, Any], key: str, dotted: str, kind: type, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(dotted, "must be a list of strings")
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(dotted, f"must be a {kind.__name__}, got {type(value).__name__}")
        return value

    def table(self, table: Mapping[str, Any], key: str, dotted: str) -> dict[str, Any]:
        return dict(self.get(table, key, dotted, dict, {}))

    def only(self, table: Mapping[str, Any], dotted: str, known: set[str]) -> None:
        """Reject keys a table does not have: a typo must not silently disable a setting."""
        unknown = sorted(set(table) - known)
        if unknown:
            raise self.fail(
                f"{dotted}.{unknown[0]}", f"unknown key; known keys: {', '.join(sorted(known))}"
            )


def _split_named_table(
    reader: _Reader, key: str, default_name: str, override: str | None
) -> tuple[str, dict[str, Any]]:
    """``[cipher]``/``[key_source]`` tables: a ``name`` plus that plugin's options."""
    table = reader.table(reader.raw, key, key)
    name = reader.get(table, "name", f"{key}.name", str, default_name)
    table.pop("name", None)
    if override is not None and override != name:
        return override, {}  # options of another implementation do not apply
    return name, table


def load_settings(
    *,
    config_path: str | os.PathLike[str] | None = None,
    default_backend: str | enum.Enum | None = None,
    backends: Mapping[Any, Mapping[str, Any]] | None = None,
    cipher: str | None = None,
    key_source: str | None = None,
    audit_sinks: list[str] | None = None,
    key_source_options: Mapping[str, Any] | None = None,
    audit_sink_options: Mapping[str, Mapping[str, Any]] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    plugin_policy: PluginPolicy | None = None,
    profile: str | None = None,
) -> Settings:
    """Merge constructor arguments, env, the config file and defaults into :class:`Settings`.

    With a ``profile`` (argument, or ``SECURE_SECRETS_PROFILE``), the ``[profiles.NAME]``
    table is merged over the top level, and the default data and log directories become
    ``.../profiles/NAME``, so each profile has its own keys and store.
    """
    explicit = config_path is not None or ENV_CONFIG in os.environ
    path = Path(config_path).expanduser() if config_path is not None else default_config_path()
    raw = read_config_file(path, must_exist=explicit)
    origin = path if raw or explicit else None
    reader = _Reader(raw, origin)

    unknown = sorted(set(raw) - _TOP_LEVEL_KEYS)
    if unknown:
        raise reader.fail(
            unknown[0], f"unknown key; known keys: {', '.join(sorted(_TOP_LEVEL_KEYS))}"
        )
    profiles = reader.table(raw, "profiles", "profiles")
    profile = profile or os.environ.get(ENV_PROFILE) or None
    if profile is not None:
        raw = _select_profile(reader, raw, profiles, profile)
        reader = _Reader(raw, origin)

    backend = (
        plugin_name(default_backend)
        if default_backend is not None
        else os.environ.get(ENV_DEFAULT_BACKEND)
        or reader.get(raw, "default_backend", "default_backend", str, DEFAULT_BACKEND)
    )

    def directory(arg: Any, env: str, key: str, fallback: Path) -> Path:
        chosen = (
            arg if arg is not None else os.environ.get(env) or reader.get(raw, key, key, str, None)
        )
        return Path(chosen).expanduser() if chosen else fallback

    data_default = defaults.user_data_dir()
    logs_default = defaults.user_log_dir()
    if profile is not None:
        data_default, logs_default = (
            d / defaults.PROFILES_DIR / profile for d in (data_default, logs_default)
        )
    data = directory(data_dir, ENV_DATA_DIR, "data_dir", data_default)
    logs = directory(None, ENV_LOG_DIR, "log_dir", logs_default)

    backend_tables: dict[str, dict[str, Any]] = {}
    file_backends = reader.table(raw, "backends", "backends")
    for name in file_backends:
        backend_tables[name] = reader.table(file_backends, name, f"backends.{name}")
    for name, table in (backends or {}).items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"backends[{plugin_name(name)!r}] must be a mapping of options")
        backend_tables.setdefault(plugin_name(name), {}).update(table)

    reader.only(reader.table(raw, "cipher", "cipher"), "cipher", {"name"})
    cipher_name, _ = _split_named_table(
        reader, "cipher", DEFAULT_CIPHER, cipher or os.environ.get(ENV_CIPHER) or None
    )
    source_name, source_options = _split_named_table(
        reader,
        "key_source",
        DEFAULT_KEY_SOURCE,
        key_source or os.environ.get(ENV_KEY_SOURCE) or None,
    )
    if key_source_options is not None:  # in code, like backends=: over the file's table
        source_options = {**source_options, **key_source_options}
    kdf = reader.table(raw, "kdf", "kdf")

    audit = reader.table(raw, "audit", "audit")
    for key, value in audit.items():
        if key != "sinks" and not isinstance(value, dict):
            raise reader.fail(f"audit.{key}", "must be 'sinks' or a [audit.SINK] table")
    sink_names = (
        audit_sinks
        if audit_sinks is not None
        else _env_list(ENV_AUDIT_SINKS)
        or reader.get(audit, "sinks", "audit.sinks", list, list(DEFAULT_AUDIT_SINKS))
    )
    unused = sorted(set(audit_sink_options or {}) - set(sink_names))
    if unused:
        raise ConfigError(
            f"audit_sink_options names '{unused[0]}', which is not among the audit sinks "
            f"({', '.join(sink_names)}); add it to audit_sinks"
        )
    sinks = []
    for sink in sink_names:
        options = reader.table(audit, sink, f"audit.{sink}") if sink != "sinks" else {}
        options = {**options, **(audit_sink_options or {}).get(sink, {})}
        required = reader.get(options, "required", f"audit.{sink}.required", bool, False)
        options.pop("required", None)
        sinks.append(AuditSinkConfig(sink, required, options))

    if plugin_policy is None:
        plugins = reader.table(raw, "plugins", "plugins")
        reader.only(plugins, "plugins", {"allow", "block", "strict"})
        allow = _env_list(ENV_PLUGINS_ALLOW)
        if allow is None:
            allow = reader.get(plugins, "allow", "plugins.allow", list, None)
        block = _env_list(ENV_PLUGINS_BLOCK)
        if block is None:
            block = reader.get(plugins, "block", "plugins.block", list, [])
        strict = _env_bool(ENV_PLUGINS_STRICT)
        if strict is None:
            strict = reader.get(plugins, "strict", "plugins.strict", bool, False)
        plugin_policy = PluginPolicy(
            allow=frozenset(allow) if allow is not None else None,
            block=frozenset(block),
            strict=strict,
        )

    policies: dict[str, AccessPolicy] = {}
    policy_tables = reader.table(raw, "policies", "policies")
    for name in policy_tables:
        table = reader.table(policy_tables, name, f"policies.{name}")
        reader.only(table, f"policies.{name}", {"read", "write"})
        policies[name] = AccessPolicy(
            read=tuple(reader.get(table, "read", f"policies.{name}.read", list, [])),
            write=tuple(reader.get(table, "write", f"policies.{name}.write", list, [])),
        )

    return Settings(
        config_file=origin,
        default_backend=backend,
        data_dir=data,
        log_dir=logs,
        backends=backend_tables,
        cipher=cipher_name,
        kdf=kdf,
        key_source=source_name,
        key_source_options=source_options,
        audit_sinks=tuple(sinks),
        audit_tables=frozenset(key for key in audit if key != "sinks"),
        profile=profile,
        profiles=tuple(sorted(profiles)),
        policies=policies,
        plugins=plugin_policy,
    )


def _select_profile(
    reader: _Reader, raw: Mapping[str, Any], profiles: Mapping[str, Any], profile: str
) -> dict[str, Any]:
    """The top-level config with ``[profiles.NAME]`` merged over it (tables merge key by key)."""
    if profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise reader.fail(f"profiles.{profile}", f"no such profile (profiles: {known})")
    overlay = reader.table(profiles, profile, f"profiles.{profile}")
    reader.only(overlay, f"profiles.{profile}", _TOP_LEVEL_KEYS - {"profiles"})
    return _merge({k: v for k, v in raw.items() if k != "profiles"}, overlay)


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
