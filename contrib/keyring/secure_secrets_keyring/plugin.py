"""Registers the ``os-keyring`` key source. ``keyring`` is imported by the factory, when a
manager first needs the key, not when the plugin is discovered."""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import ConfigOption, KeySourceSpec

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


@hookimpl
def secrets_register_key_sources() -> list[KeySourceSpec]:
    return [
        KeySourceSpec(
            name="os-keyring",
            factory="secure_secrets_keyring.source:OsKeyringSource.from_options",
            options=OPTIONS,
            description="random KEK stored in the OS keyring (Secret Service, Keychain, ...)",
        )
    ]
