"""Registers the ``os-keyring`` key source. ``keyring`` is imported by the factory, when a
manager first needs the key, not when the plugin is discovered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secrets_core import hookimpl
from secrets_core.plugin import ConfigOption, KeySourceSpec, PluginContext

if TYPE_CHECKING:
    from secure_secrets_keyring.source import OsKeyringSource

OPTIONS = {
    "service": ConfigOption(
        str, default="secure-secrets", help="keyring service name the key is stored under"
    ),
    "username": ConfigOption(
        str, default="key-encryption-key", help="keyring user name the key is stored under"
    ),
    "backend": ConfigOption(
        str,
        help="keyring backend class to use instead of keyring's own choice, e.g. "
        "keyrings.alt.file.PlaintextKeyring (default: PYTHON_KEYRING_BACKEND or keyringrc)",
    ),
}


def _make_source(options: Mapping[str, Any], context: PluginContext) -> OsKeyringSource:
    from secure_secrets_keyring.source import OsKeyringSource

    return OsKeyringSource(
        service=options["service"], username=options["username"], backend=options["backend"]
    )


@hookimpl
def secrets_register_key_sources() -> list[KeySourceSpec]:
    return [
        KeySourceSpec(
            name="os-keyring",
            factory=_make_source,
            options=OPTIONS,
            description="random KEK stored in the OS keyring (Secret Service, Keychain, ...)",
        )
    ]
