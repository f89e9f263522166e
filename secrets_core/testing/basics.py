"""Backend contracts, part one: the basic read/write/delete/list behaviour every backend
must have, and the tests of each optional capability (versions, metadata, soft delete, CAS).

:class:`~secrets_core.testing.BackendContract` mixes these with the semantics, concurrency
and failure contracts; the fixtures it takes are defined here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from secrets_core.config import resolve_options
from secrets_core.errors import ConflictError, SecretNotFoundError
from secrets_core.names import MAX_NAME_LENGTH
from secrets_core.plugin._api import (
    BackendSpec,
    Capability,
    CasBackend,
    MetadataBackend,
    PluginContext,
    SecretMetadata,
    SoftDeleteBackend,
    StorageBackend,
    VersionedBackend,
)

VALUES: dict[str, bytes | str] = {
    "unicode": "pässwörd ✓ 密码 🔑",
    "empty_text": "",
    "empty_bytes": b"",
    "binary": bytes(range(256)),
    "one_mib": os.urandom(1024 * 1024),
}
EDGE_NAMES = [
    "a",
    "x" * MAX_NAME_LENGTH,
    "billing/stripe/api_key",
    "dots.and-dashes_and_underscores",
    "_leading_underscore",
    "CaseSensitive",
    "casesensitive",
]


def effective_capabilities(spec: BackendSpec, backend: object) -> frozenset[Capability]:
    """What ``backend`` can do as configured: the descriptor's capabilities, narrowed by the
    instance's own ``capabilities`` attribute when it has one (as the manager does)."""
    narrowed = getattr(backend, "capabilities", None)
    if narrowed is None:
        return frozenset(spec.capabilities)
    return frozenset(spec.capabilities) & frozenset(narrowed)


def make_backend(
    spec: BackendSpec, options: Mapping[str, Any], context: PluginContext
) -> StorageBackend:
    """``spec.make(options, context)``; a module-level function, so that a
    :func:`functools.partial` of it pickles (the spec's option schema is dropped: the options
    are already resolved)."""
    return spec.make(options, context)


class BackendFixtures:
    """The fixtures every backend contract uses, built from ``backend_spec``. Mix it in to run
    one contract on its own (``class TestDown(BackendFixtures, FailureContract)``)."""

    @pytest.fixture
    def backend_options(self) -> dict[str, object]:
        return {}

    @pytest.fixture
    def backend_maker(
        self, backend_spec: BackendSpec, backend_options: dict[str, object], tmp_path: Path
    ) -> Callable[[], StorageBackend]:
        """Builds a new instance of the backend under test on the same store (the same
        options, the same data directory). The multi-process contract calls it in each child
        process, so it must pickle: a ``"module:attr"`` factory or a module-level function."""
        options = resolve_options(backend_spec.options, backend_options, "[kit]")
        context = PluginContext(data_dir=tmp_path / "data", log_dir=tmp_path / "log")
        return functools.partial(make_backend, backend_spec._replace(options={}), options, context)

    @pytest.fixture
    def backend(self, backend_maker: Callable[[], StorageBackend]) -> Iterator[StorageBackend]:
        made = backend_maker()
        yield made
        made.close()

    @pytest.fixture
    def capabilities(
        self, backend_spec: BackendSpec, backend: StorageBackend
    ) -> frozenset[Capability]:
        """The capabilities the tests check: the spec's, narrowed by the instance."""
        return effective_capabilities(backend_spec, backend)


class _BackendBasics(BackendFixtures):
    """read/write/delete/list behaviour every backend must have."""

    def test_implements_the_interface(self, backend: StorageBackend) -> None:
        assert isinstance(backend, StorageBackend), (
            "the factory must return an object with read, write, delete, list_names and close"
        )

    @pytest.mark.parametrize("kind", sorted(VALUES))
    def test_value_round_trips_with_its_type(self, backend: StorageBackend, kind: str) -> None:
        value = VALUES[kind]
        backend.write("kit_value", value)
        got = backend.read("kit_value")
        assert type(got) is type(value), (
            f"read must return {type(value).__name__} when that was written"
        )
        assert got == value, f"a {kind} value must read back byte-identical"

    def test_overwrite_replaces_the_value(self, backend: StorageBackend) -> None:
        backend.write("kit_overwrite", b"first")
        backend.write("kit_overwrite", b"second")
        assert backend.read("kit_overwrite") == b"second", "a second write must replace the first"

    def test_missing_name_raises_not_found(self, backend: StorageBackend) -> None:
        with pytest.raises(SecretNotFoundError):
            backend.read("kit_never_written")

    def test_delete_removes_and_missing_delete_raises(self, backend: StorageBackend) -> None:
        backend.write("kit_delete", b"x")
        backend.delete("kit_delete")
        with pytest.raises(SecretNotFoundError, match="kit_delete"):
            backend.read("kit_delete")
        with pytest.raises(SecretNotFoundError):
            backend.delete("kit_delete")

    @pytest.mark.parametrize("name", EDGE_NAMES)
    def test_name_edge_cases_are_distinct(self, backend: StorageBackend, name: str) -> None:
        backend.write(name, name.encode())
        backend.write("kit_other", b"other")
        assert backend.read(name) == name.encode(), "each valid name must map to its own entry"

    def test_names_differing_only_in_case_are_distinct(self, backend: StorageBackend) -> None:
        backend.write("CaseSensitive", b"upper")
        backend.write("casesensitive", b"lower")
        assert backend.read("CaseSensitive") == b"upper", "names are case-sensitive"
        assert backend.read("casesensitive") == b"lower", "names are case-sensitive"

    def test_list_honours_the_declared_capability(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        if Capability.LIST not in capabilities:
            pytest.skip("backend does not declare Capability.LIST")
        for name in ("app/a", "app/b", "other"):
            backend.write(name, b"v")
        assert sorted(backend.list_names("")) == ["app/a", "app/b", "other"], (
            "list_names('') must return every stored name"
        )
        assert sorted(backend.list_names("app/")) == ["app/a", "app/b"], (
            "list_names(prefix) must return only names starting with prefix"
        )
        backend.delete("app/a")
        assert "app/a" not in backend.list_names(""), "deleted names must not be listed"
        assert backend.list_names("app/") == ["app/b"], "nor listed under their prefix"

    def test_read_returns_the_newest_of_several_writes(self, backend: StorageBackend) -> None:
        for i in range(5):
            backend.write("kit_newest", f"v{i}")
        assert backend.read("kit_newest") == "v4", "read must return the last value written"


class CapabilityTests:
    """Base of the capability-gated contracts: ``needs`` skips a test the backend does not
    declare the capability for."""

    @staticmethod
    def needs(capabilities: frozenset[Capability], capability: Capability) -> None:
        if capability not in capabilities:
            pytest.skip(f"backend does not declare Capability.{capability.name}")


class BackendCapabilityContract(CapabilityTests):
    """Tests for the optional capabilities a backend declares (skipped when not declared).

    Mixed into :class:`BackendContract`; the fixtures are the same.
    """

    def test_versions_are_numbered_and_readable(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.VERSIONS)
        assert isinstance(backend, VersionedBackend), "VERSIONS needs read_version/rewrite_versions"
        first = backend.write("kit_versioned", b"one")
        second = backend.write("kit_versioned", "two")
        assert isinstance(first, int) and isinstance(second, int) and second > first, (
            "with VERSIONS, write must return increasing version numbers"
        )
        assert backend.read_version("kit_versioned", first) == b"one", "read_version(old)"
        assert backend.read_version("kit_versioned", second) == "two", "read_version keeps type"
        assert backend.read("kit_versioned") == "two", "read returns the newest version"
        with pytest.raises(SecretNotFoundError):
            backend.read_version("kit_versioned", second + 100)

    def test_rewrite_versions_transforms_every_version(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.VERSIONS)
        assert isinstance(backend, VersionedBackend)
        versions = [backend.write("kit_rewrite", f"v{i}".encode()) for i in range(3)]
        assert all(isinstance(v, int) for v in versions), "write must return the version"

        def exclaim(value: bytes | str) -> bytes | str:
            return value + b"!" if isinstance(value, bytes) else value + "!"

        changed = backend.rewrite_versions("kit_rewrite", exclaim)
        assert changed == 3, "rewrite_versions returns how many versions changed"
        for i, version in enumerate(versions):
            assert backend.read_version("kit_rewrite", int(version or 0)) == f"v{i}!".encode()
        unchanged = backend.rewrite_versions("kit_rewrite", lambda value: value)
        assert unchanged == 0, "versions whose value is unchanged must not count (or be written)"

    def test_metadata_tracks_versions_and_custom_fields(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.METADATA)
        assert isinstance(backend, MetadataBackend), "METADATA needs metadata/set_custom_metadata"
        backend.write("kit_meta", b"one")
        backend.write("kit_meta", b"two")
        backend.set_custom_metadata("kit_meta", {"owner": "team-a"})
        meta = backend.metadata("kit_meta")
        assert isinstance(meta, SecretMetadata) and meta.name == "kit_meta"
        assert meta.created <= meta.updated, "created must not be after updated"
        assert dict(meta.custom) == {"owner": "team-a"}, "custom metadata must round-trip"
        if Capability.VERSIONS in capabilities:
            assert meta.current_version == max(v.version for v in meta.versions)
            assert len(meta.versions) >= 2, "metadata lists the retained versions"
        with pytest.raises(SecretNotFoundError):
            backend.metadata("kit_never_written")

    def test_soft_delete_restore_and_purge(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, SoftDeleteBackend), (
            "SOFT_DELETE needs restore/purge/list_deleted"
        )
        backend.write("kit_soft", b"keep me")
        backend.delete("kit_soft")
        with pytest.raises(SecretNotFoundError):
            backend.read("kit_soft")
        assert "kit_soft" not in backend.list_names(""), "a soft-deleted secret is not listed"
        assert backend.list_deleted("") == ["kit_soft"], "list_deleted shows it"
        backend.restore("kit_soft")
        assert backend.read("kit_soft") == b"keep me", "restore brings the value back"
        backend.purge("kit_soft")
        with pytest.raises(SecretNotFoundError):
            backend.read("kit_soft")
        with pytest.raises(SecretNotFoundError):
            backend.restore("kit_soft")
        assert "kit_soft" not in backend.list_deleted(""), "purge destroys it for good"


class CasContract(CapabilityTests):
    """Check-and-set writes (:class:`~secrets_core.plugin.CasBackend`), tested when the
    backend declares ``Capability.CAS``. Mixed into :class:`BackendContract`."""

    def test_cas_creates_only_if_absent(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.CAS)
        assert isinstance(backend, CasBackend)
        first = backend.write("kit_cas_new", b"one", cas=0)
        assert isinstance(first, int) and first >= 1, (
            "with CAS, write must return the new version number (the next cas= argument)"
        )
        with pytest.raises(ConflictError):
            backend.write("kit_cas_new", b"two", cas=0)
        assert backend.read("kit_cas_new") == b"one", "a refused CAS write must write nothing"

    def test_cas_zero_treats_a_soft_deleted_secret_as_existing(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.CAS)
        self.needs(capabilities, Capability.SOFT_DELETE)
        assert isinstance(backend, CasBackend)
        current = backend.write("kit_cas_deleted", b"one", cas=0)
        backend.delete("kit_cas_deleted")
        with pytest.raises(ConflictError):
            backend.write("kit_cas_deleted", b"two", cas=0)
        assert isinstance(current, int)
        assert isinstance(backend.write("kit_cas_deleted", b"two", cas=current), int), (
            "cas=<current version> succeeds on a soft-deleted secret (and undeletes it)"
        )

    def test_cas_writes_only_over_the_expected_version(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        self.needs(capabilities, Capability.CAS)
        assert isinstance(backend, CasBackend)
        first = backend.write("kit_cas", "one")
        assert isinstance(first, int), "with CAS, write must return the new version number"
        second = backend.write("kit_cas", "two", cas=first)
        assert isinstance(second, int) and second > first, "cas=<current version> must succeed"
        with pytest.raises(ConflictError):
            backend.write("kit_cas", "stale", cas=first)
        assert backend.read("kit_cas") == "two", "a stale CAS write must write nothing"
        backend.write("kit_cas", "three")  # a plain write is not checked
        assert backend.read("kit_cas") == "three"
