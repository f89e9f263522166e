"""Contract tests for storage backends."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secrets_core.config import resolve_options
from secrets_core.errors import ConflictError, SecretNotFoundError, SecretsError
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


class _BackendBasics:
    """read/write/delete/list behaviour every backend must have."""

    @pytest.fixture
    def backend_options(self) -> dict[str, object]:
        return {}

    @pytest.fixture
    def backend(
        self, backend_spec: BackendSpec, backend_options: dict[str, object], tmp_path: Path
    ) -> Iterator[StorageBackend]:
        options = resolve_options(backend_spec.options, backend_options, "[kit]")
        context = PluginContext(data_dir=tmp_path / "data", log_dir=tmp_path / "log")
        made = backend_spec.make(options, context)
        yield made
        made.close()

    @pytest.fixture
    def capabilities(
        self, backend_spec: BackendSpec, backend: StorageBackend
    ) -> frozenset[Capability]:
        """The capabilities the tests check: the spec's, narrowed by the instance."""
        return effective_capabilities(backend_spec, backend)

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


class _CapabilityTests:
    @staticmethod
    def needs(capabilities: frozenset[Capability], capability: Capability) -> None:
        if capability not in capabilities:
            pytest.skip(f"backend does not declare Capability.{capability.name}")


class BackendCapabilityContract(_CapabilityTests):
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


class CasContract(_CapabilityTests):
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


class SemanticsContract(_CapabilityTests):
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


class ConcurrencyContract:
    """Several threads sharing one backend instance lose no write. Mixed into
    :class:`BackendContract`."""

    THREADS = 8
    WRITES = 10

    def test_threads_sharing_one_instance_lose_no_write(
        self, backend: StorageBackend, capabilities: frozenset[Capability]
    ) -> None:
        errors: list[BaseException] = []
        versions: list[object] = []
        lock = threading.Lock()

        def work(thread: int) -> None:
            try:
                for i in range(self.WRITES):
                    backend.write(f"kit_thread/{thread}", f"{thread}-{i}")
                    version = backend.write("kit_thread/shared", f"{thread}-{i}")
                    with lock:
                        versions.append(version)
            except BaseException as exc:  # noqa: BLE001  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, f"concurrent writes raised {errors[0]!r}"
        for t in range(self.THREADS):
            assert backend.read(f"kit_thread/{t}") == f"{t}-{self.WRITES - 1}", "a write was lost"
        if Capability.VERSIONS in capabilities:
            assert len(set(versions)) == len(versions), (
                "concurrent writes to one secret must each get their own version number"
            )


class FailureContract:
    """A store that is down raises a :class:`~secrets_core.errors.SecretsError` subclass,
    never a client library's exception, and never "not found". Provide ``make_unavailable``:
    a callable that takes the ``backend`` under test and makes its store unreachable (stops
    the server, closes the port, replaces the directory or database by garbage); the default
    skips these tests. Mixed into :class:`BackendContract`."""

    @pytest.fixture
    def make_unavailable(self) -> Callable[[StorageBackend], None]:
        pytest.skip("provide a make_unavailable fixture to test the failure contract")

    @pytest.mark.parametrize("operation", ["read", "write", "delete", "list_names"])
    def test_a_store_that_is_down_raises_a_secrets_error(
        self,
        backend: StorageBackend,
        make_unavailable: Callable[[StorageBackend], None],
        operation: str,
    ) -> None:
        backend.write("kit_down", b"x")
        make_unavailable(backend)
        calls: dict[str, Callable[[], object]] = {
            "read": lambda: backend.read("kit_down"),
            "write": lambda: backend.write("kit_down", b"y"),
            "delete": lambda: backend.delete("kit_down"),
            "list_names": lambda: backend.list_names(""),
        }
        try:
            calls[operation]()
        except SecretNotFoundError:
            pytest.fail(f"{operation} on a store that is down must not pretend 'not found'")
        except SecretsError:
            return
        except Exception as exc:
            pytest.fail(
                f"{operation} raised {type(exc).__name__}; a store that is down must raise a "
                "secrets_core.errors type (e.g. BackendUnavailableError)"
            )
        pytest.fail(f"{operation} on a store that is down must raise, not succeed")


class BackendContract(
    _BackendBasics,
    BackendCapabilityContract,
    CasContract,
    SemanticsContract,
    ConcurrencyContract,
    FailureContract,
):
    """Subclass and provide a ``backend_spec`` fixture returning the :class:`BackendSpec`.

    Override ``backend_options`` to pass options (the default is the spec's defaults), or
    ``backend`` itself to build the backend another way. Each test gets a fresh backend
    rooted in pytest's ``tmp_path``. Capability tests run only for declared capabilities.
    """
