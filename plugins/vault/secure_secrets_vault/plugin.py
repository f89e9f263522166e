"""Registration of the ``vault`` backends (HashiCorp Vault / OpenBao KV) and the ``transit``
cipher.

Registration is cheap: hvac and requests are imported inside the factories, when a backend or
cipher is actually constructed, never here.
"""

from __future__ import annotations

from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec, Capability, CipherSpec, CommandSpec
from secure_secrets_vault.options import OPTIONS

NATIVE_CAPABILITIES = frozenset(
    {
        Capability.LIST,
        Capability.ENCRYPTS_AT_REST,
        Capability.VERSIONS,
        Capability.METADATA,
        Capability.SOFT_DELETE,
        Capability.CAS,
        Capability.MULTI_PROCESS,  # the server orders every write
    }
)
ENVELOPE_CAPABILITIES = frozenset(
    {Capability.LIST, Capability.METADATA, Capability.CAS, Capability.MULTI_PROCESS}
)


@hookimpl
def secrets_register_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="vault",
            factory="secure_secrets_vault.settings:make_backend",
            capabilities=NATIVE_CAPABILITIES,
            options=OPTIONS,
            dynamic="secure_secrets_vault.settings:make_dynamic",
            describe="secure_secrets_vault.settings:describe",
            description="HashiCorp Vault / OpenBao KV, stored natively (readable by other Vault "
            "clients, encrypted at rest by the server); KV v2: versions, metadata, "
            "check-and-set, soft delete; KV v1: read, write, delete, list; "
            "client_side_encryption = true stores envelope ciphertext instead",
        ),
        BackendSpec(
            name="vault-envelope",
            factory="secure_secrets_vault.settings:make_envelope_backend",
            capabilities=ENVELOPE_CAPABILITIES,
            options=OPTIONS,
            dynamic="secure_secrets_vault.settings:make_dynamic",
            describe="secure_secrets_vault.settings:describe",
            description="HashiCorp Vault / OpenBao KV v2 holding client-side envelope "
            "ciphertext (for when the server is not trusted with plaintext); the same as "
            "vault with client_side_encryption = true",
        ),
    ]


@hookimpl
def secrets_register_ciphers() -> list[CipherSpec]:
    return [
        CipherSpec(
            name="transit",
            factory="secure_secrets_vault.transit:make_cipher",
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
