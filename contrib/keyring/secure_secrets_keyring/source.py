"""The key source: a random key-encryption key, base64-encoded, in the OS keyring.

Every ``keyring`` failure becomes :class:`~secrets_core.errors.KeyNotAvailableError` raised
``from None``, with what to do; no message carries the key.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from secrets_core.errors import ConfigError, KeyNotAvailableError


def _load_backend(name: str) -> KeyringBackend:
    try:
        return keyring.core.load_keyring(name)
    except Exception as exc:  # ImportError, AttributeError, a backend's own init error
        raise ConfigError(
            f"option 'backend' in [key_source] names keyring backend {name!r}, which cannot be "
            f"loaded ({type(exc).__name__}); install the package that provides it, or remove "
            "the option to use keyring's default"
        ) from None


class OsKeyringSource:
    """Keeps the KEK under (``service``, ``username``) in a keyring backend."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: object) -> OsKeyringSource:
        """The ``os-keyring`` factory."""
        return cls(
            service=options["service"], username=options["username"], backend=options["backend"]
        )

    def __init__(self, service: str, username: str, backend: str | None = None) -> None:
        self.service = service
        self.username = username
        self._backend = _load_backend(backend) if backend else None

    def __repr__(self) -> str:
        return f"OsKeyringSource(service={self.service!r}, username={self.username!r})"

    @property
    def keyring(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def _where(self) -> str:
        try:
            backend = f", backend {type(self.keyring).__name__}"
        except Exception:  # the default keyring itself may fail to initialise
            backend = ""
        return f"the OS keyring (service {self.service!r}, user {self.username!r}{backend})"

    def _call(self, action: str, function: Any, *args: str) -> Any:
        try:
            return function(self.service, self.username, *args)
        except keyring.errors.NoKeyringError:
            raise KeyNotAvailableError(
                f"no OS keyring is available to {action} the key-encryption key; install a "
                "keyring backend (or set [key_source] backend, or PYTHON_KEYRING_BACKEND)"
            ) from None
        except Exception as exc:  # keyring and backend errors may carry D-Bus details
            raise KeyNotAvailableError(
                f"{self._where()} could not {action} the key-encryption key "
                f"({type(exc).__name__}); unlock the keyring and try again"
            ) from None

    def _stored(self, length: int) -> bytes | None:
        encoded = self._call("read", self.keyring.get_password)
        if encoded is None:
            return None
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError, AttributeError):
            raise KeyNotAvailableError(f"{self._where()} does not hold a base64 key") from None
        if len(key) != length:
            raise KeyNotAvailableError(
                f"{self._where()} holds a {len(key)}-byte key; {length} bytes are needed"
            )
        return key

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        """Store a new random KEK, or reuse one already in the keyring (it may still
        protect a backup, so it is never overwritten)."""
        params = {"service": self.service, "username": self.username}
        existing = self._stored(length)
        if existing is not None:
            return existing, params
        key = os.urandom(length)
        self._call("store", self.keyring.set_password, base64.b64encode(key).decode("ascii"))
        if self._stored(length) != key:
            raise KeyNotAvailableError(
                f"{self._where()} did not keep the key-encryption key that was stored; "
                "use another keyring backend"
            )
        return key, params

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        key = self._stored(length)
        if key is None:
            raise KeyNotAvailableError(
                f"{self._where()} holds no key-encryption key, but a keyring file exists. "
                f"Restore the key from your backup with: keyring set {self.service} "
                f"{self.username} (paste the base64 key), or set [key_source] service and "
                "username to where it is; a new key would not decrypt the stored secrets"
            )
        return key
