"""Contract tests for key rotation over a storage backend.

A backend that holds client-side ciphertext (no ``ENCRYPTS_AT_REST``) must let a key rotation
reach every stored value: live, older versions and soft-deleted secrets. Subclass
:class:`RotationContract` with a ``backend_spec`` fixture (and ``backend_options`` if the
backend needs any), as for :class:`~secrets_core.testing.BackendContract`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from secrets_core import builtin
from secrets_core.errors import RotationIncompleteError
from secrets_core.keys import envelope
from secrets_core.manager import SecretsManager
from secrets_core.plugin import BackendSpec, Capability, PluginRegistry, VersionedBackend, hookimpl
from secrets_core.testing.fixtures import isolate_home

LIVE: dict[str, str | bytes] = {"kit/plain": "plain-value", "kit/bytes": b"\x00bytes-value\xff"}
HISTORY = ["first-version", "second-version", "third-version"]


class _KitPlugin:
    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    @hookimpl
    def secrets_register_backends(self) -> list[BackendSpec]:
        return [self.spec]


class RotationContract:
    """Rotation reaches every value the backend stores. Needs a ``backend_spec`` fixture."""

    @pytest.fixture
    def backend_options(self) -> dict[str, object]:
        return {}

    @pytest.fixture
    def rotation_manager(
        self,
        backend_spec: BackendSpec,
        backend_options: dict[str, object],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[SecretsManager]:
        isolate_home(tmp_path / "home", monkeypatch)
        if Capability.ENCRYPTS_AT_REST in backend_spec.capabilities:
            pytest.skip("the server encrypts at rest: rotation does not rewrite its values")
        # Under a name of its own: the plugin may be installed too, under its real name.
        spec = backend_spec._replace(name=f"kit-{backend_spec.name}")
        plugin = cast(ModuleType, _KitPlugin(spec))  # pluggy takes any object with hookimpls
        registry = PluginRegistry(internal=[("core", builtin), ("kit", plugin)])
        manager = SecretsManager(
            default_backend=spec.name,
            backends={spec.name: backend_options},
            registry=registry,
        )
        yield manager
        manager.close()

    def _capabilities(self, manager: SecretsManager) -> frozenset[Capability]:
        return manager.backend_capabilities()

    def _populate(self, manager: SecretsManager) -> None:
        capabilities = self._capabilities(manager)
        for name, value in LIVE.items():
            manager.store_secret(name, value)
        if Capability.VERSIONS in capabilities:
            for value in HISTORY:
                manager.store_secret("kit/history", value)
        if Capability.SOFT_DELETE in capabilities:
            manager.store_secret("kit/deleted", "deleted-value")
            manager.delete_secret("kit/deleted")

    def _rotate(self, manager: SecretsManager) -> str:
        try:
            event = manager.rotate_encryption_key(keep_old_keys=0)
        except RotationIncompleteError as exc:
            pytest.fail(
                "rotation must rewrite every stored value: rewrite_versions (or rewrite) must "
                "accept every name list_names and list_deleted return, soft-deleted secrets "
                f"included, and never raise SecretNotFoundError for them. Rotation said: {exc}"
            )
        return str(event.details["new_key_id"])

    def test_every_version_of_every_secret_opens_after_rotation(
        self, rotation_manager: SecretsManager
    ) -> None:
        manager = rotation_manager
        self._populate(manager)
        self._rotate(manager)
        self._rotate(manager)  # twice: the first primary is gone from the keyring
        for name, value in LIVE.items():
            assert manager.retrieve_secret(name) == value, f"{name} must open after rotation"
        capabilities = self._capabilities(manager)
        if Capability.VERSIONS in capabilities:
            assert manager.retrieve_secret("kit/history") == HISTORY[-1]
        if {Capability.VERSIONS, Capability.METADATA} <= capabilities:
            versions = manager.secret_metadata("kit/history").versions
            opened = [manager.retrieve_secret("kit/history", version=v.version) for v in versions]
            assert opened == HISTORY[-len(opened) :], "every retained version must open"

    def test_a_soft_deleted_secret_is_rotated_and_restores(
        self, rotation_manager: SecretsManager
    ) -> None:
        manager = rotation_manager
        if Capability.SOFT_DELETE not in self._capabilities(manager):
            pytest.skip("no soft delete")
        self._populate(manager)
        self._rotate(manager)
        self._rotate(manager)
        manager.restore_secret("kit/deleted")
        assert manager.retrieve_secret("kit/deleted") == "deleted-value", (
            "a secret soft-deleted during a rotation must be re-encrypted too, so that it "
            "opens once restored"
        )

    def test_every_stored_token_is_under_the_new_key(
        self, rotation_manager: SecretsManager
    ) -> None:
        manager = rotation_manager
        self._populate(manager)
        new_id = self._rotate(manager)
        backend = manager.backend()
        for name in LIVE:
            assert envelope.key_id_of(backend.read(name), name) == new_id

    def test_rewrite_is_all_or_nothing_per_secret(self, rotation_manager: SecretsManager) -> None:
        manager = rotation_manager
        if Capability.VERSIONS not in self._capabilities(manager):
            pytest.skip("no versions")
        self._populate(manager)
        backend = cast(VersionedBackend, manager.backend())
        calls: list[Any] = []

        class Interrupted(Exception):
            pass

        def fail_on_second(token: bytes | str) -> bytes | str:
            calls.append(token)
            if len(calls) == 2:
                raise Interrupted("a transform failing half-way")
            return b"ss1:0000000000000000:replaced"

        with pytest.raises(Interrupted):
            backend.rewrite_versions("kit/history", fail_on_second)
        assert manager.retrieve_secret("kit/history") == HISTORY[-1], (
            "rewrite_versions must replace all versions or none: a transform that raises "
            "half-way must leave every version as it was"
        )
