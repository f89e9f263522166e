"""The ``transit`` cipher: encryption by Vault/OpenBao Transit, with keys that never leave
the server.

The core hands every cipher a random data key (``CipherSpec.factory(key)``). Transit keeps its
own keys, so this cipher uses the data key as a second factor instead: each request passes
``context = HMAC-SHA256(data_key, associated_data)`` to a *derived* Transit key. Decrypting
needs the server's key **and** the local data key **and** the same associated data; a
token moved to another secret (other associated data) or opened with another data key fails
authentication on the server.

Token layout (bytes): ``b"VT1" | key version (4 bytes, big-endian) | Transit ciphertext``
(the raw bytes behind ``vault:vN:<base64>``; kept raw so that every byte is authenticated).

Connection settings come from :func:`configure` or the environment: ``VAULT_ADDR``,
``VAULT_TOKEN``, ``VAULT_CACERT``, ``VAULT_NAMESPACE``, ``VAULT_TRANSIT_MOUNT`` (default
``transit``) and ``VAULT_TRANSIT_KEY`` (default ``secure-secrets``). The CipherSpec interface
has no options table yet; see docs/vault.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import threading
from collections.abc import Mapping
from typing import Any

from secrets_core.errors import (
    BackendConfigurationError,
    IntegrityError,
    SecretAccessError,
    SecretsError,
)

MAGIC = b"VT1"
_HEADER = struct.Struct(">3sI")
_MIN_CIPHERTEXT = 12 + 16  # AES-GCM nonce + tag
DEFAULT_MOUNT = "transit"
DEFAULT_KEY = "secure-secrets"

_configured: dict[str, Any] = {}
_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def configure(**options: Any) -> None:
    """Set the Transit connection for ciphers made afterwards: the ``[backends.vault]``
    options (``vault_url``, ``vault_token``, ``ca_cert``, ``auth_method``...) plus
    ``transit_mount`` and ``transit_key``. ``configure()`` with no arguments resets to the
    environment."""
    with _lock:
        _configured.clear()
        _configured.update(options)
        for client in _clients.values():
            client.close()
        _clients.clear()


def _client_and_key() -> tuple[Any, str, str]:
    from secure_secrets_vault.client import VaultClient
    from secure_secrets_vault.settings import settings_from_options

    with _lock:
        options = dict(_configured)
        mount = str(
            options.pop("transit_mount", None)
            or os.environ.get("VAULT_TRANSIT_MOUNT")
            or DEFAULT_MOUNT
        ).strip("/")
        key = str(
            options.pop("transit_key", None) or os.environ.get("VAULT_TRANSIT_KEY") or DEFAULT_KEY
        )
        cache_key = (
            tuple(sorted((k, repr(v)) for k, v in options.items())),
            os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN"),
            os.environ.get("VAULT_CACERT"), os.environ.get("VAULT_NAMESPACE"),
        )  # fmt: skip
        client = _clients.get(cache_key)
        if client is None:
            client = VaultClient(settings_from_options({"mount_point": mount, **options}))
            _clients[cache_key] = client
        return client, mount, key


class TransitCipher:
    """A :class:`~secrets_core.plugin.Cipher` backed by Vault Transit."""

    def __init__(self, data_key: bytes, client: Any, mount: str, key_name: str) -> None:
        self._data_key = bytes(data_key)
        self.client = client
        self.mount = mount
        self.key_name = key_name
        self._latest: int | None = None  # the Transit key's newest version, once known

    def __repr__(self) -> str:
        return f"TransitCipher(key={self.key_name!r}, mount={self.mount!r})"

    def _context(self, associated_data: bytes) -> str:
        digest = hmac.new(self._data_key, bytes(associated_data), hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def _post(self, action: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        path = f"/v1/{self.mount}/{action}/{self.key_name}"
        response = self.client.call(lambda c: c.adapter.post(path, json=body), f"transit {action}")
        return response["data"]  # type: ignore[no-any-return]

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        body = {
            "plaintext": base64.b64encode(plaintext).decode("ascii"),
            "context": self._context(associated_data),
        }
        return _to_token(self._post("encrypt", body)["ciphertext"])

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        body = {"ciphertext": _from_token(token), "context": self._context(associated_data)}
        error: SecretsError | None = None
        try:
            plaintext = self._post("decrypt", body)["plaintext"]
            return base64.b64decode(plaintext, validate=True)
        except SecretAccessError as exc:
            error = exc
            if type(exc) is SecretAccessError:  # HTTP 400: not authentic under this context
                error = IntegrityError(
                    "transit: decryption failed: the ciphertext was tampered with, or belongs "
                    "to another secret or data key"
                )
        except (binascii.Error, ValueError, KeyError, TypeError):
            error = IntegrityError("transit: the server returned no valid plaintext")
        raise error

    def rewrap(self, token: bytes, associated_data: bytes) -> bytes | None:
        """``token`` re-encrypted under the newest version of the Transit key, on the server
        (the plaintext never comes back to the client); None if it already is under it.
        The same derivation context is used, so the result opens with the same data key."""
        version = _version_of(token)
        if version >= self.latest_version():
            return None
        body = {"ciphertext": _from_token(token), "context": self._context(associated_data)}
        rewrapped = _to_token(self._post("rewrap", body)["ciphertext"])
        self._latest = max(self._latest or 0, _version_of(rewrapped))
        return rewrapped

    def latest_version(self) -> int:
        """The Transit key's newest version (read once from ``keys/<name>``, then kept)."""
        if self._latest is None:
            path = f"/v1/{self.mount}/keys/{self.key_name}"
            answer = self.client.call(lambda c: c.adapter.get(path), "read the transit key")
            try:
                self._latest = int(answer["data"]["latest_version"])
            except (KeyError, TypeError, ValueError):
                raise BackendConfigurationError(
                    "transit: the server did not report the key's latest version"
                ) from None
        return self._latest

    def rotate_server_key(self) -> None:
        """Make a new version of the Transit key (``keys/<name>/rotate``); new encryptions
        use it, and :meth:`rewrap` moves older tokens to it."""
        path = f"/v1/{self.mount}/keys/{self.key_name}/rotate"
        self.client.call(lambda c: c.adapter.post(path), "rotate the transit key")
        self._latest = None  # read again: another client may have rotated too

    rotate_key = rotate_server_key  # the name before the core had RewrappingCipher


def _version_of(token: bytes) -> int:
    _from_token(token)  # validates the layout
    return int(_HEADER.unpack_from(bytes(token))[1])


def _to_token(ciphertext: str) -> bytes:
    try:
        prefix, version, raw = ciphertext.split(":", 2)
        if prefix != "vault" or not version.startswith("v"):
            raise ValueError("unexpected prefix")
        return _HEADER.pack(MAGIC, int(version[1:])) + base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        raise BackendConfigurationError(
            "transit: the server returned an unexpected ciphertext format"
        ) from None


def _from_token(token: bytes) -> str:
    token = bytes(token)
    if len(token) < _HEADER.size + _MIN_CIPHERTEXT or not token.startswith(MAGIC):
        raise IntegrityError("transit: the token is truncated or not a Transit token")
    _, version = _HEADER.unpack_from(token)
    if version < 1:
        raise IntegrityError("transit: the token names an invalid key version")
    raw = base64.b64encode(token[_HEADER.size :]).decode("ascii")
    return f"vault:v{version}:{raw}"


def make_cipher(key: bytes) -> TransitCipher:
    client, mount, key_name = _client_and_key()
    return TransitCipher(key, client, mount, key_name)
