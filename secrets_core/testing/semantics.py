"""Backend contracts, part two: the semantics docs/hooks.md specifies ("Backend semantics")
for the capabilities a backend declares: times, version numbering, custom metadata, soft
delete, purge and rewrites. Mixed into :class:`~secrets_core.testing.BackendContract`."""

from __future__ import annotations

import datetime as dt

import pytest

from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin._api import (
    Capability,
    MetadataBackend,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
)
from secrets_core.testing.basics import CapabilityTests


def _utc_iso(label: str, value: object) -> None:
    """``value`` must be an ISO-8601 timestamp with a UTC offset of zero."""
    assert isinstance(value, str) and value, f"{label} must be an ISO-8601 UTC time, not {value!r}"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise AssertionError(
            f"{label} must be ISO-8601 (datetime.isoformat), not {value!r}"
        ) from None
    assert parsed.utcoffset() == dt.timedelta(0), f"{label} must be in UTC (+00:00 or Z): {value!r}"


class SemanticsContract(CapabilityTests):
    """The semantics docs/hooks.md specifies ("Backend semantics"), for the capabilities a
    backend declares. Mixed into :class:`BackendContract`."""

    def test_times_are_iso8601_utc_and_created_is_stable(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.METADATA)
        assert isinstance(backend, MetadataBackend)
        backend.write("kit_times", b"1")
        first = backend.metadata("kit_times")
        backend.write("kit_times", b"2")
        second = backend.metadata("kit_times")
        for label, value in [("created", second.created), ("updated", second.updated)] + [
            (f"version {v.version} created", v.created) for v in second.versions
        ]:
            _utc_iso(label, value)
        assert second.created == first.created, "created must not change when a secret is written"
        assert second.updated >= first.updated, "updated must move forward on a write"

    def test_version_numbers_strictly_increase(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.VERSIONS)
        written = [backend.write("kit_numbers", f"v{i}") for i in range(12)]
        numbers = [n for n in written if isinstance(n, int)]
        assert numbers == written, "with VERSIONS, write returns the version"
        assert numbers == sorted(set(numbers)), f"versions must strictly increase: {numbers}"
        assert numbers[0] >= 1, "the first version is 1 (or more), never 0"

    def test_set_custom_metadata_replaces_and_survives_writes(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.METADATA)
        assert isinstance(backend, MetadataBackend)
        backend.write("kit_custom", b"1")
        backend.set_custom_metadata("kit_custom", {"owner": "a", "team": "b"})
        backend.set_custom_metadata("kit_custom", {"owner": "c"})
        assert dict(backend.metadata("kit_custom").custom) == {"owner": "c"}, (
            "set_custom_metadata replaces the whole mapping (it does not merge)"
        )
        backend.write("kit_custom", b"2")
        assert dict(backend.metadata("kit_custom").custom) == {"owner": "c"}, (
            "custom metadata must survive a write"
        )

    def test_a_soft_deleted_secret_is_hidden_but_keeps_its_metadata(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, SoftDeleteBackend)
        backend.write("kit_sd/gone", b"1")
        backend.write("kit_sd/live", b"1")
        if Capability.METADATA in capabilities:
            assert isinstance(backend, MetadataBackend)
            backend.set_custom_metadata("kit_sd/gone", {"owner": "a"})
        backend.delete("kit_sd/gone")
        assert backend.list_names("kit_sd/") == ["kit_sd/live"], "list_names(prefix) hides it"
        assert backend.list_deleted("kit_sd/") == ["kit_sd/gone"], (
            "list_deleted(prefix) lists soft-deleted names only, never live ones"
        )
        if Capability.VERSIONS in capabilities:
            assert isinstance(backend, VersionedBackend)
            with pytest.raises(SecretNotFoundError):
                backend.read_version("kit_sd/gone", 1)  # hidden until restored
        if Capability.METADATA in capabilities:
            assert isinstance(backend, MetadataBackend)
            meta = backend.metadata("kit_sd/gone")
            assert meta.deleted is True, "metadata() of a soft-deleted secret says deleted=True"
            assert dict(meta.custom) == {"owner": "a"}, "custom metadata survives a delete"
            backend.restore("kit_sd/gone")
            meta = backend.metadata("kit_sd/gone")
            assert meta.deleted is False and dict(meta.custom) == {"owner": "a"}, (
                "custom metadata survives a restore"
            )

    def test_a_write_over_a_soft_deleted_secret_undeletes_it(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, SoftDeleteBackend)
        first = backend.write("kit_wod", b"old")
        backend.delete("kit_wod")
        second = backend.write("kit_wod", b"new")
        assert backend.read("kit_wod") == b"new", "a write over a deleted secret makes it live"
        assert "kit_wod" in backend.list_names("") and "kit_wod" not in backend.list_deleted("")
        if Capability.VERSIONS in capabilities:
            assert isinstance(backend, VersionedBackend)
            assert isinstance(first, int) and isinstance(second, int) and second > first, (
                "numbering continues over a soft delete"
            )
            try:  # older versions: readable again, or hidden (Vault KV v2); never another value
                older = backend.read_version("kit_wod", first)
            except SecretNotFoundError:
                older = b"old"
            assert older == b"old", "read_version of an older version returns its own value"

    def test_purge_then_recreate_starts_a_new_secret(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, SoftDeleteBackend)
        for value in (b"a", b"b", b"c"):
            backend.write("kit_purge", value)
        backend.purge("kit_purge")
        again = backend.write("kit_purge", b"fresh")
        assert backend.read("kit_purge") == b"fresh"
        if Capability.VERSIONS in capabilities:
            assert isinstance(backend, VersionedBackend)
            assert again == 1, "after a purge, a re-created secret starts again at version 1"
            with pytest.raises(SecretNotFoundError):
                backend.read_version("kit_purge", 3)  # nothing of the purged secret remains
        if Capability.METADATA in capabilities:
            assert isinstance(backend, MetadataBackend)
            assert dict(backend.metadata("kit_purge").custom) == {}, "purge drops custom metadata"

    def test_rewrite_versions_covers_soft_deleted_secrets(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        if Capability.ENCRYPTS_AT_REST in capabilities:
            pytest.skip("the store encrypts at rest: key rotation never rewrites its values")
        self.needs(capabilities, Capability.VERSIONS)
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, VersionedBackend) and isinstance(backend, SoftDeleteBackend)
        backend.write("kit_rw_deleted", b"one")
        backend.write("kit_rw_deleted", b"two")
        backend.delete("kit_rw_deleted")
        changed = backend.rewrite_versions("kit_rw_deleted", lambda v: b"new-" + bytes(v))  # type: ignore[arg-type]
        assert changed == 2, "rewrite_versions must rewrite a soft-deleted secret's versions too"
        backend.restore("kit_rw_deleted")
        assert backend.read("kit_rw_deleted") == b"new-two"

    def test_rewrite_versions_is_all_or_nothing(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        if Capability.ENCRYPTS_AT_REST in capabilities:
            pytest.skip("the store encrypts at rest: key rotation never rewrites its values")
        self.needs(capabilities, Capability.VERSIONS)
        assert isinstance(backend, VersionedBackend)
        versions = [backend.write("kit_rw_atomic", f"v{i}".encode()) for i in range(3)]
        calls: list[bytes | str] = []

        def fails_on_the_second(value: bytes | str) -> bytes | str:
            calls.append(value)
            if len(calls) == 2:
                raise RuntimeError("transform failed")
            return b"changed"

        with pytest.raises(Exception):  # noqa: B017  # whatever the transform raised
            backend.rewrite_versions("kit_rw_atomic", fails_on_the_second)
        for i, version in enumerate(versions):
            assert backend.read_version("kit_rw_atomic", int(version or 0)) == f"v{i}".encode(), (
                "a failing rewrite must leave every version as it was (all or nothing)"
            )
