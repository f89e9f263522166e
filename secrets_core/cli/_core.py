"""The few things the CLI needs that SecretsManager has no public method for yet.

Each function reaches into the manager's internals; each is listed in the CLI issue's closing
note as a public method to add to the core, after which this module goes away.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secrets_core.descriptors import BackendSpec
    from secrets_core.manager import SecretsManager


def ensure_keys(manager: SecretsManager) -> str:
    """Create the keyring (or unlock the existing one); return the primary key id."""
    key_id, _cipher = manager._key_manager().primary()
    return key_id


def unlock(manager: SecretsManager) -> list[str]:
    """Unlock the existing keyring (asks for the passphrase if needed); return its key ids."""
    return manager._key_manager().key_ids()


def rotation_pending(manager: SecretsManager) -> str | None:
    """The target key id of an unfinished rotation, if any."""
    return manager._key_manager().rotation_pending()


def keyring_path(manager: SecretsManager) -> Path:
    return manager.settings.data_dir / "keyring.json"


def backend_spec(manager: SecretsManager, backend: str | None) -> BackendSpec:
    """The descriptor of a backend (capabilities), without constructing it."""
    return manager.registry.backend(backend or manager.default_backend)


def stored_token(manager: SecretsManager, name: str, backend: str | None) -> bytes | str:
    """The value as the backend stores it: the sealed envelope for client-side-encrypted
    backends (no decryption happens)."""
    from secrets_core.names import validate_name

    _spec, store = manager._backend(backend)
    return store.read(validate_name(name))


def reach_backend(manager: SecretsManager, backend: str | None) -> None:
    """Construct a backend (raises if it cannot be configured or reached)."""
    manager._backend(backend)
