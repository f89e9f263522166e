"""Changing what protects the data keys: another key source, or a new passphrase.

The keyring's data keys are re-wrapped under the new key-encryption key and a fresh primary
data key is made; with ``again`` every stored value is also re-encrypted and the old keys
retired (:func:`secrets_core.rotation.rotate`). Works on the assembly, never on the manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.assembly import Assembly
from secrets_core.config import resolve_options
from secrets_core.defaults import key_file_path
from secrets_core.errors import ConfigError
from secrets_core.keys import PassphraseSource
from secrets_core.plugin import KeySource
from secrets_core.rotation import rotate
from secrets_core.secret import SecretValue


def new_key_source(assembly: Assembly, name: str, options: Mapping[str, Any]) -> KeySource:
    """The key source ``name`` with ``options``; a key file must move to a new path."""
    settings = assembly.settings
    if name == "keyfile" and settings.key_source == "keyfile":
        default = key_file_path(settings.data_dir)
        old = Path(settings.key_source_options.get("path") or default)
        new = Path(options.get("path") or default)
        if old.expanduser() == new.expanduser():
            raise ConfigError(
                "a new key file needs a new path: change_key_source('keyfile', "
                "{'path': NEW_PATH}); the old file is kept until you delete it"
            )
    return assembly.key_source(name, options, "change_key_source()")


def new_passphrase_source(assembly: Assembly, secret: SecretValue) -> KeySource:
    """The configured passphrase key source, deriving from ``secret`` instead of asking."""
    if assembly.settings.key_source != "passphrase":
        raise ConfigError(
            f"the key source is '{assembly.settings.key_source}', not a passphrase; to "
            "protect the keys with a passphrase instead, use change_key_source('passphrase')"
        )
    options = resolve_options(
        assembly.registry.lookup("key source", "passphrase").options,
        assembly.settings.key_source_options,
        assembly.where("key_source"),
    )
    return PassphraseSource(options, assembly.context(), passphrase=str(secret.reveal()))


def rewrap(
    assembly: Assembly, source: KeySource, name: str, details: dict[str, Any], again: bool
) -> None:
    """Re-wrap the keyring under ``source`` (named ``name``); ``again``: rotate too."""
    details["new_key_id"] = assembly.key_manager().rewrap(source, name, not again)
    if again:  # the rotation makes the fresh key
        rotate(assembly, details, keep_old_keys=0)
