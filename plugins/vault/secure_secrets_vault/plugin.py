"""Registration of the ``vault`` backends (HashiCorp Vault / OpenBao KV) and the ``transit``
cipher.

Registration is cheap: hvac and requests are imported inside the factories, when a backend or
cipher is actually constructed, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secrets_core import hookimpl
from secrets_core.plugin import (
    BackendSpec,
    Capability,
    Cipher,
    CipherSpec,
    CommandSpec,
    DynamicCredentials,
    PluginContext,
    StorageBackend,
)
from secure_secrets_vault.options import OPTIONS

NATIVE_CAPABILITIES = frozenset(
    {
        Capability.LIST,
        Capability.ENCRYPTS_AT_REST,
        Capability.VERSIONS,
        Capability.METADATA,
        Capability.SOFT_DELETE,
        Capability.CAS,
    }
)
ENVELOPE_CAPABILITIES = frozenset({Capability.LIST, Capability.METADATA, Capability.CAS})


def _make_backend(
    options: Mapping[str, Any], context: PluginContext, table: str = "[backends.vault]"
) -> StorageBackend:
    from secure_secrets_vault.settings import settings_from_options

    try:
        settings = settings_from_options(options, table)  # config errors before hvac import
        envelope = bool(options.get("client_side_encryption"))
    finally:
        del options  # an error's traceback locals must not show the credentials
    from secure_secrets_vault.backend import VaultBackend

    return VaultBackend(settings, envelope=envelope)


def _make_envelope_backend(options: Mapping[str, Any], context: PluginContext) -> StorageBackend:
    """``vault-envelope``: ``vault`` with ``client_side_encryption`` forced on. It reads its
    own table, ``[backends.vault-envelope]`` (not ``[backends.vault]``), and says so."""
    return _make_backend(
        {**options, "client_side_encryption": True}, context, "[backends.vault-envelope]"
    )


def _make_dynamic(options: Mapping[str, Any], context: PluginContext) -> DynamicCredentials:
    """``run --dynamic``'s credentials, with the backend's connection settings."""
    from secure_secrets_vault.dynamic import DynamicSecrets

    return DynamicSecrets.from_resolved(options)


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="vault",
            factory=_make_backend,
            capabilities=NATIVE_CAPABILITIES,
            options=OPTIONS,
            dynamic=_make_dynamic,
            description="HashiCorp Vault / OpenBao KV, stored natively (readable by other Vault "
            "clients, encrypted at rest by the server); KV v2: versions, metadata, "
            "check-and-set, soft delete; KV v1: read, write, delete, list; "
            "client_side_encryption = true stores envelope ciphertext instead",
        ),
        BackendSpec(
            name="vault-envelope",
            factory=_make_envelope_backend,
            capabilities=ENVELOPE_CAPABILITIES,
            options=OPTIONS,
            dynamic=_make_dynamic,
            description="HashiCorp Vault / OpenBao KV v2 holding client-side envelope "
            "ciphertext (for when the server is not trusted with plaintext); the same as "
            "vault with client_side_encryption = true",
        ),
    ]


def _make_transit_cipher(key: bytes) -> Cipher:
    from secure_secrets_vault.transit import make_cipher

    return make_cipher(key)


@hookimpl
def secrets_register_ciphers() -> list[CipherSpec]:
    return [
        CipherSpec(
            name="transit",
            factory=_make_transit_cipher,
            key_size=32,
            description="Vault/OpenBao Transit (keys never leave the server); the local data "
            "key is bound in as the derivation context. Connection from VAULT_ADDR, "
            "VAULT_TOKEN, VAULT_TRANSIT_KEY... (see docs/vault.md)",
        )
    ]


@hookimpl
def secrets_register_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            name="lease",
            command="secure_secrets_vault.cli:lease_group",
            help="Dynamic secrets from Vault/OpenBao: read a leased credential, renew, revoke.",
        )
    ]
