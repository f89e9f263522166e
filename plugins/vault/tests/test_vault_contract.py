"""The vault backend against the conformance kit, on a KV v2 and a KV v1 mount of a real
OpenBao server (a fresh mount per test, so listing sees only the test's own secrets)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from secure_secrets_vault import plugin
from secure_secrets_vault.backend import KV1_CAPABILITIES

from secrets_core.config import resolve_options
from secrets_core.descriptors import BackendSpec, PluginContext, StorageBackend
from secrets_core.errors import BackendConfigurationError
from secrets_core.testing import BackendContract


def spec_named(name: str) -> BackendSpec:
    return next(s for s in plugin.secrets_register_backends() if s.name == name)


class _OnFreshMount(BackendContract):
    kv_version = 2
    spec_name = "vault"

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec_named(self.spec_name)

    @pytest.fixture
    def backend(
        self, backend_spec: BackendSpec, vault_server, fresh_mount: Callable[[int], str], tmp_path
    ) -> Iterator[StorageBackend]:
        table = vault_server.options(mount_point=fresh_mount(self.kv_version))
        options = resolve_options(backend_spec.options, table, "[kit]")
        made = backend_spec.factory(options, PluginContext(tmp_path / "d", tmp_path / "l"))
        yield made
        made.close()


class TestVaultKV2Contract(_OnFreshMount):
    kv_version = 2

    def test_rewrite_versions_transforms_every_version(self, backend: StorageBackend) -> None:
        """Replaces the kit's test: KV versions are immutable, and the manager only calls
        rewrite_versions on backends without ENCRYPTS_AT_REST (rotation skips this one, see
        test_vault_manager.py). The kit should not require it of server-encrypted backends."""
        backend.write("kit_rewrite", b"v0")
        with pytest.raises(BackendConfigurationError, match="cannot be rewritten"):
            backend.rewrite_versions("kit_rewrite", lambda value: value)
        assert backend.read("kit_rewrite") == b"v0"


class TestVaultKV1Contract(_OnFreshMount):
    """On a KV v1 mount the instance supports only LIST (+ ENCRYPTS_AT_REST); the core reads
    capabilities from the spec, so the kit gets a spec with the capabilities a KV v1 instance
    reports in ``backend.capabilities``."""

    kv_version = 1

    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return dataclasses.replace(spec_named("vault"), capabilities=KV1_CAPABILITIES)


class TestVaultEnvelopeContract(_OnFreshMount):
    kv_version = 2
    spec_name = "vault-envelope"
