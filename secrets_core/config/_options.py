"""Plugin option tables: validated against the plugin's schema, credentials resolved from
``{ env = "VAR" }`` / ``{ file = "PATH" }`` references. Values are never echoed in errors."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.errors import ConfigError
from secrets_core.plugin._api import ConfigOption


def resolve_options(
    schema: Mapping[str, ConfigOption],
    table: Mapping[str, Any],
    where: str,
    error: type[ConfigError] = ConfigError,
) -> dict[str, Any]:
    """Validate a plugin's option table against its schema and resolve credential references.

    ``where`` names the table and the file for error messages (e.g. ``[backends.vault] in
    ~/.config/secure-secrets/config.toml``); ``error`` is the ConfigError subclass to raise
    (the manager uses BackendConfigurationError for backend tables). Values are never echoed.
    """
    unknown = sorted(set(table) - set(schema))
    if unknown:
        known = ", ".join(sorted(schema)) or "none"
        raise error(f"unknown option '{unknown[0]}' in {where}; known options: {known}")
    resolved: dict[str, Any] = {}
    for key, option in schema.items():
        if key not in table or table[key] is None:
            if option.required:
                raise error(f"option '{key}' in {where} is required: {option.help}")
            resolved[key] = option.default
            continue
        try:
            value = _resolve_reference(table[key], key, where)
        except ConfigError as exc:
            raise error(str(exc)) from None
        types = option.type if isinstance(option.type, tuple) else (option.type,)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join(t.__name__ for t in types)
            raise error(f"option '{key}' in {where} must be {expected}, got {type(value).__name__}")
        resolved[key] = value
    return resolved


def _resolve_reference(value: Any, key: str, where: str) -> Any:
    """``{ env = "VAR" }`` and ``{ file = "/path" }`` keep credentials out of the config."""
    if not isinstance(value, Mapping):
        return value
    if set(value) == {"env"} and isinstance(value["env"], str):
        var = value["env"]
        if var not in os.environ:
            raise ConfigError(
                f"option '{key}' in {where} refers to environment variable {var}, which is not set"
            )
        return os.environ[var]
    if set(value) == {"file"} and isinstance(value["file"], str):
        ref = Path(value["file"]).expanduser()
        try:
            return ref.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"option '{key}' in {where} refers to file {ref}, which cannot be read: "
                f"{exc.strerror}"
            ) from None
    raise ConfigError(
        f'option \'{key}\' in {where} must be a value, {{ env = "VAR" }} or {{ file = "PATH" }}'
    )
