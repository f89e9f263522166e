"""The vault backend against the conformance kit, built by a manager (so with the manager's
view of its capabilities: the descriptor's, narrowed by the instance) on a fresh mount of a
real OpenBao server per test, so that listing sees only the test's own secrets.

Runs on KV v2 stored natively, KV v2 with ``client_side_encryption``, the ``vault-envelope``
alias, and KV v1 (where the kit runs the reduced set: no versions, metadata, CAS); the kit's
multi-process contract runs in each (the plugin declares ``Capability.MULTI_PROCESS``: the
server orders every write). The store-down contract runs on a server of its own, paused
with SIGSTOP (it accepts connections and never answers), with a 1 s time budget; key
rotation's contract on ``vault-envelope`` (the one mode whose values are client-side
ciphertext)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from secure_secrets_vault import plugin
from secure_secrets_vault.backend import KV1_CAPABILITIES

from secrets_core.errors import BackendConfigurationError
from secrets_core.plugin import BackendSpec, Capability, StorageBackend
from secrets_core.testing import (
    BackendContract,
    BackendFixtures,
    FailureContract,
    RotationContract,
    effective_capabilities,
)
from secure_secrets import SecureSecretsManager


def spec_named(name: str) -> BackendSpec:
    return next(s for s in plugin.secrets_register_backends() if s.name == name)


class _OnFreshMount(BackendContract):
    kv_version = 2
    spec_name = "vault"
    extra: ClassVar[dict[str, object]] = {}
    expected: ClassVar[frozenset[Capability]] = plugin.NATIVE_CAPABILITIES

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec_named(self.spec_name)

    @pytest.fixture
    def backend_options(self, vault_server, fresh_mount: Callable[[int], str]) -> dict[str, object]:
        """The table of a fresh mount (the kit's backend_maker builds the multi-process
        contract's writers from it)."""
        return vault_server.options(mount_point=fresh_mount(self.kv_version), **self.extra)

    @pytest.fixture
    def manager(self, backend_options: dict[str, object]) -> Iterator[SecureSecretsManager]:
        manager = SecureSecretsManager(
            default_backend=self.spec_name, backends={self.spec_name: backend_options}
        )
        yield manager
        manager.close()

    @pytest.fixture
    def backend(self, manager: SecureSecretsManager) -> StorageBackend:
        return manager.backend(self.spec_name)

    @pytest.fixture
    def capabilities(
        self, manager: SecureSecretsManager, backend_spec: BackendSpec, backend: StorageBackend
    ) -> frozenset[Capability]:
        capabilities = manager.backend_capabilities(self.spec_name)
        assert capabilities == effective_capabilities(backend_spec, backend) == self.expected
        return capabilities


class TestVaultKV2Contract(_OnFreshMount):
    def test_rewrite_versions_transforms_every_version(self, backend: StorageBackend) -> None:
        """Replaces the kit's test: KV versions are immutable, and the manager only calls
        rewrite_versions on backends without ENCRYPTS_AT_REST (rotation skips this one, see
        test_vault_manager.py). The kit should not require it of server-encrypted backends."""
        backend.write("kit_rewrite", b"v0")
        with pytest.raises(BackendConfigurationError, match="cannot be rewritten"):
            backend.rewrite_versions("kit_rewrite", lambda value: value)
        assert backend.read("kit_rewrite") == b"v0"


class TestVaultKV2ClientSideContract(_OnFreshMount):
    extra: ClassVar[dict[str, object]] = {"client_side_encryption": True}
    expected = plugin.ENVELOPE_CAPABILITIES


class TestVaultEnvelopeAliasContract(_OnFreshMount):
    spec_name = "vault-envelope"
    expected = plugin.ENVELOPE_CAPABILITIES


class TestVaultKV1Contract(_OnFreshMount):
    kv_version = 1
    expected = KV1_CAPABILITIES


class _StoreDown(BackendFixtures, FailureContract):
    """The kit's store-down contract on a raw backend (no manager guard in between) whose
    server is paused: every operation raises a ``SecretsError`` subclass within its budget."""

    spec_name = "vault"
    mount = "secret"
    DOWN_WITHIN_SECONDS = 10.0  # a bound against hanging, well above the 1 s budget

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec_named(self.spec_name)

    @pytest.fixture
    def backend_options(self, pausable_vault_server) -> dict[str, object]:
        return pausable_vault_server.options(mount_point=self.mount, timeout=0.5, retry_budget=1.0)

    @pytest.fixture
    def make_unavailable(self, pausable_vault_server) -> Iterator[Callable[[StorageBackend], None]]:
        yield lambda backend: pausable_vault_server.pause()
        pausable_vault_server.resume()


class TestVaultKV2StoreDown(_StoreDown):
    pass


class TestVaultEnvelopeStoreDown(_StoreDown):
    spec_name = "vault-envelope"


class TestVaultKV1StoreDown(_StoreDown):
    mount = "kv1"


class TestVaultEnvelopeRotationContract(RotationContract):
    """Rotation re-encrypts every value a ``vault-envelope`` store holds. Plain ``vault``
    declares ``ENCRYPTS_AT_REST`` (the server encrypts; there is no client data key to
    rotate), so the contract skips it."""

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec_named("vault-envelope")

    @pytest.fixture
    def backend_options(self, vault_server, fresh_mount: Callable[[int], str]) -> dict[str, object]:
        return vault_server.options(mount_point=fresh_mount(2))


class TestVaultNativeRotationContract(TestVaultEnvelopeRotationContract):
    """Plain ``vault``: every test skips, saying why (the server encrypts at rest)."""

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec_named("vault")
