"""Configuration: the TOML file, environment variables and constructor arguments, merged into
:class:`Settings`; plugin option tables validated against their schema; profiles.

Every default (paths, file names, environment variable names) is declared once, in
:mod:`secrets_core.defaults`.
"""

from typing import TYPE_CHECKING, Any

from secrets_core.config._options import resolve_options
from secrets_core.config._settings import (
    AccessPolicy,
    AuditSinkConfig,
    Settings,
    default_config_path,
    load_settings,
    plugin_name,
    read_config_file,
)
from secrets_core.plugin._registry import PluginPolicy  # the [plugins] table

if TYPE_CHECKING:
    from secrets_core.config._backend_type import BackendType
    from secrets_core.config._profiles import key_identity, shared_keys


def __getattr__(name: str) -> Any:
    """Profiles (``key_identity``, ``shared_keys``) and :class:`BackendType` are imported on
    first use: `doctor` and rotation need profiles, applications the enum, a `get` neither."""
    if name == "BackendType":
        from secrets_core.config._backend_type import BackendType

        return BackendType
    if name in ("key_identity", "shared_keys"):
        from secrets_core.config import _profiles

        return getattr(_profiles, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccessPolicy",
    "AuditSinkConfig",
    "PluginPolicy",
    "BackendType",
    "Settings",
    "default_config_path",
    "key_identity",
    "load_settings",
    "plugin_name",
    "read_config_file",
    "resolve_options",
    "shared_keys",
]
