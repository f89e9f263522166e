"""Versions, metadata, soft delete and rewrite_versions: directly and through the manager.

These check the capability protocols of ``secrets_core.plugin`` that the conformance kit
does not (yet) cover.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from secure_secrets_file import plugin
from secure_secrets_file.backend import DELETED_SUFFIX, FileBackend, file_name

from secrets_core.errors import (
    BackendConfigurationError,
    IntegrityError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretNotFoundError,
)
from secrets_core.plugin import (
    Capability,
    MetadataBackend,
    SecretMetadata,
    SoftDeleteBackend,
    VersionedBackend,
)
from secure_secrets import SecureSecretsManager


@pytest.fixture
def backend(tmp_path: Path) -> FileBackend:
    return FileBackend(tmp_path / "store")


def test_declares_and_implements_the_capabilities(backend: FileBackend) -> None:
    spec = plugin.secrets_register_backends()[0]
    assert spec.capabilities == {
        Capability.LIST,
        Capability.VERSIONS,
        Capability.METADATA,
        Capability.SOFT_DELETE,
        Capability.MULTI_PROCESS,
    }
    for protocol in (VersionedBackend, MetadataBackend, SoftDeleteBackend):
        assert isinstance(backend, protocol)


# --- versions --------------------------------------------------------------------------------


def test_write_returns_increasing_versions_readable_by_number(backend: FileBackend) -> None:
    assert [backend.write("k", f"v{i}") for i in range(1, 4)] == [1, 2, 3]
    assert backend.read("k") == "v3"
    assert [backend.read_version("k", n) for n in (1, 2, 3)] == ["v1", "v2", "v3"]
    backend.write("k", b"bytes now")
    assert backend.read_version("k", 4) == b"bytes now"
    assert backend.read_version("k", 3) == "v3", "each version keeps its own type"


def test_only_the_last_max_versions_are_kept(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store", max_versions=3)
    for i in range(1, 8):
        backend.write("k", f"v{i}")
    meta = backend.metadata("k")
    assert [v.version for v in meta.versions] == [5, 6, 7]
    assert meta.current_version == 7
    with pytest.raises(SecretNotFoundError, match="no version 4"):
        backend.read_version("k", 4)
    assert backend.read_version("k", 5) == "v5"


def test_default_keeps_ten_versions(backend: FileBackend) -> None:
    for i in range(12):
        backend.write("k", str(i))
    assert [v.version for v in backend.metadata("k").versions] == list(range(3, 13))


@pytest.mark.parametrize("version", [0, -1, 99, True, "1", 1.0])
def test_a_missing_or_malformed_version_is_not_found(backend: FileBackend, version) -> None:
    backend.write("k", "v1")
    with pytest.raises(SecretNotFoundError):
        backend.read_version("k", version)


def test_lowering_max_versions_prunes_on_the_next_write(tmp_path: Path) -> None:
    for i in range(5):
        FileBackend(tmp_path / "store").write("k", str(i))
    smaller = FileBackend(tmp_path / "store", max_versions=2)
    assert len(smaller.metadata("k").versions) == 5, "reading does not drop history"
    smaller.write("k", "5")
    assert [v.version for v in smaller.metadata("k").versions] == [5, 6]


# --- metadata --------------------------------------------------------------------------------


def parse(stamp: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == dt.timedelta(0), "times are UTC"
    return parsed


def test_metadata_tracks_created_updated_and_versions(backend: FileBackend) -> None:
    backend.write("k", "a")
    first = backend.metadata("k")
    backend.write("k", "b")
    second = backend.metadata("k")
    assert isinstance(second, SecretMetadata)
    assert second.name == "k" and second.current_version == 2 and not second.deleted
    assert second.created == first.created, "created is the first write"
    assert parse(second.updated) >= parse(first.updated) >= parse(first.created)
    assert [v.version for v in second.versions] == [1, 2]
    assert second.versions[0].created == first.versions[0].created
    assert parse(second.versions[1].created) >= parse(second.versions[0].created)
    assert second.custom == {}


def test_custom_metadata_replaces_and_survives_writes(backend: FileBackend) -> None:
    backend.write("k", "a")
    backend.set_custom_metadata("k", {"owner": "team-a", "env": "prod"})
    backend.write("k", "b")
    assert backend.metadata("k").custom == {"owner": "team-a", "env": "prod"}
    backend.set_custom_metadata("k", {"owner": "team-b"})
    assert backend.metadata("k").custom == {"owner": "team-b"}
    assert backend.read("k") == "b" and backend.metadata("k").current_version == 2


@pytest.mark.parametrize(
    "custom",
    [
        {"k": 1},
        {1: "v"},
        {"": "v"},
        {"k" * 129: "v"},
        {"k": "v" * 513},
        {f"k{i}": "v" for i in range(65)},
        [("k", "v")],
    ],
    ids=["int-value", "int-key", "empty-key", "long-key", "long-value", "too-many", "not-mapping"],
)
def test_bad_custom_metadata_is_refused(backend: FileBackend, custom) -> None:
    backend.write("k", "a")
    with pytest.raises(InvalidSecretValueError):
        backend.set_custom_metadata("k", custom)
    assert backend.metadata("k").custom == {}


def test_metadata_of_a_missing_secret_is_not_found(backend: FileBackend) -> None:
    with pytest.raises(SecretNotFoundError, match="'nope'"):
        backend.metadata("nope")
    with pytest.raises(SecretNotFoundError):
        backend.set_custom_metadata("nope", {})


# --- soft delete -----------------------------------------------------------------------------


def test_delete_hides_restore_brings_back_everything(backend: FileBackend) -> None:
    backend.write("app/k", "v1")
    backend.write("app/k", "v2")
    backend.set_custom_metadata("app/k", {"a": "b"})
    backend.write("app/other", "x")
    backend.delete("app/k")

    with pytest.raises(SecretNotFoundError, match="soft-deleted"):
        backend.read("app/k")
    with pytest.raises(SecretNotFoundError):
        backend.read_version("app/k", 1)
    with pytest.raises(SecretNotFoundError):
        backend.delete("app/k")
    assert backend.list_names("") == ["app/other"]
    assert backend.list_deleted("") == ["app/k"]
    assert backend.list_deleted("other") == []
    assert backend.metadata("app/k").deleted is True
    assert not (backend.root / file_name("app/k")).exists()

    backend.restore("app/k")
    assert backend.read("app/k") == "v2"
    assert backend.read_version("app/k", 1) == "v1"
    meta = backend.metadata("app/k")
    assert meta.deleted is False and meta.custom == {"a": "b"} and meta.current_version == 2
    assert backend.list_names("app/") == ["app/k", "app/other"]
    assert backend.list_deleted("") == []


def test_restore_of_a_live_or_missing_secret_is_not_found(backend: FileBackend) -> None:
    backend.write("k", "v")
    with pytest.raises(SecretNotFoundError, match="is not deleted"):
        backend.restore("k")
    with pytest.raises(SecretNotFoundError, match="not found"):
        backend.restore("nope")


def test_writing_a_deleted_name_revives_it_with_its_history(backend: FileBackend) -> None:
    backend.write("k", "v1")
    backend.delete("k")
    assert backend.write("k", "v2") == 2
    assert backend.read("k") == "v2" and backend.read_version("k", 1) == "v1"
    assert backend.list_deleted("") == [] and backend.list_names("") == ["k"]
    assert not (backend.root / (file_name("k").split(".")[0] + DELETED_SUFFIX)).exists()


@pytest.mark.parametrize("deleted", [False, True])
def test_purge_destroys_every_version(backend: FileBackend, deleted: bool) -> None:
    backend.write("k", "v1")
    backend.write("k", "v2")
    if deleted:
        backend.delete("k")
    backend.purge("k")
    assert backend.list_names("") == [] and backend.list_deleted("") == []
    assert not [p for p in backend.root.iterdir() if not p.name.endswith(".lock")]
    with pytest.raises(SecretNotFoundError):
        backend.metadata("k")
    with pytest.raises(SecretNotFoundError):
        backend.purge("k")
    assert backend.write("k", "fresh") == 1, "a purged name starts again at version 1"


# --- rewrite_versions ------------------------------------------------------------------------


def test_rewrite_versions_rewrites_changed_versions_only(backend: FileBackend) -> None:
    for value in ("old-1", "new-2", "old-3"):
        backend.write("k", value)
    before = backend.metadata("k")
    changed = backend.rewrite_versions("k", lambda v: v.replace("old", "NEW"))
    assert changed == 2
    assert [backend.read_version("k", n) for n in (1, 2, 3)] == ["NEW-1", "new-2", "NEW-3"]
    assert backend.metadata("k") == before, "times and numbers are kept"


def test_rewrite_versions_without_change_does_not_touch_the_file(backend: FileBackend) -> None:
    backend.write("k", "v")
    path = backend.root / file_name("k")
    inode = path.stat().st_ino
    assert backend.rewrite_versions("k", lambda v: v) == 0
    assert path.stat().st_ino == inode


def test_rewrite_versions_covers_soft_deleted_secrets(backend: FileBackend) -> None:
    backend.write("k", b"old")
    backend.delete("k")
    assert backend.rewrite_versions("k", lambda v: b"new") == 1
    assert backend.list_deleted("") == ["k"], "it stays deleted"
    backend.restore("k")
    assert backend.read("k") == b"new"


def test_a_failing_transform_changes_nothing(backend: FileBackend) -> None:
    backend.write("k", "a")
    backend.write("k", "b")
    original = (backend.root / file_name("k")).read_bytes()

    def fail_on_second(value: bytes | str) -> bytes | str:
        if value == "b":
            raise IntegrityError("cannot re-encrypt")
        return value + "!"

    with pytest.raises(IntegrityError):
        backend.rewrite_versions("k", fail_on_second)
    assert (backend.root / file_name("k")).read_bytes() == original
    with pytest.raises(InvalidSecretValueError):
        backend.rewrite_versions("k", lambda v: 42)  # type: ignore[arg-type,return-value]
    assert (backend.root / file_name("k")).read_bytes() == original
    with pytest.raises(SecretNotFoundError):
        backend.rewrite_versions("missing", lambda v: v)


# --- names and values ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "../x", "/abs", "a\x00b", "x" * 129, None])
def test_the_backend_validates_names_itself(backend: FileBackend, bad) -> None:
    with pytest.raises(InvalidSecretNameError):
        backend.write(bad, "v")
    with pytest.raises(InvalidSecretNameError):
        backend.read(bad)
    assert list(backend.root.iterdir()) == []


@pytest.mark.parametrize("bad", [None, 1, ["v"], object()])
def test_non_str_bytes_values_are_refused(backend: FileBackend, bad) -> None:
    with pytest.raises(InvalidSecretValueError):
        backend.write("k", bad)


def test_bytearray_and_memoryview_are_stored_as_bytes(backend: FileBackend) -> None:
    backend.write("a", bytearray(b"xy"))
    backend.write("m", memoryview(b"zz"))
    assert backend.read("a") == b"xy" and backend.read("m") == b"zz"


@pytest.mark.parametrize(
    "options",
    [
        {"max_versions": 0},
        {"max_versions": 1001},
        {"on_loose_permissions": "ignore"},
        {"lock_timeout": -1},
    ],
)
def test_bad_options_are_configuration_errors(tmp_path: Path, options: dict) -> None:
    from secrets_core.config import resolve_options
    from secrets_core.plugin import PluginContext

    spec = plugin.secrets_register_backends()[0]
    resolved = resolve_options(spec.options, options, "[backends.file]")
    with pytest.raises(BackendConfigurationError, match=next(iter(options))):
        spec.make(resolved, PluginContext(tmp_path / "data", tmp_path / "log"))


# --- through the manager ---------------------------------------------------------------------


def test_the_manager_api_over_the_file_backend(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    assert manager.store_secret("db/password", "one").details["version"] == 1
    event = manager.store_secret("db/password", b"two", metadata={"owner": "ops"})
    assert event.details["version"] == 2
    assert manager.retrieve_secret("db/password") == b"two"
    assert manager.retrieve_secret("db/password", version=1) == "one"
    meta = manager.secret_metadata("db/password")
    assert (meta.current_version, meta.custom, meta.deleted) == (2, {"owner": "ops"}, False)

    manager.delete_secret("db/password")
    assert manager.list_secrets() == []
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("db/password")
    manager.restore_secret("db/password")
    assert manager.list_secrets("db/") == ["db/password"]
    assert manager.retrieve_secret("db/password", version=1) == "one"

    manager.purge_secret("db/password")
    with pytest.raises(SecretNotFoundError):
        manager.secret_metadata("db/password")


def test_rotation_reencrypts_every_version_of_live_and_deleted_secrets(
    isolated_home: Path,
) -> None:
    manager = SecureSecretsManager()
    for value in ("a1", "a2", "a3"):
        manager.store_secret("live", value)
    manager.store_secret("gone", "g1")
    manager.store_secret("gone", "g2")
    manager.delete_secret("gone")
    event = manager.rotate_encryption_key(keep_old_keys=0)
    assert event.details["backends"]["file"]["rotated"] == 2
    store = isolated_home / "data" / "secure-secrets" / "store"
    for old in event.details["retired_key_ids"]:
        for path in store.iterdir():
            assert old.encode() not in path.read_bytes(), "no version left under a retired key"
    fresh = SecureSecretsManager()
    assert [fresh.retrieve_secret("live", version=n) for n in (1, 2, 3)] == ["a1", "a2", "a3"]
    fresh.restore_secret("gone")
    assert fresh.retrieve_secret("gone", version=1) == "g1"
    assert fresh.retrieve_secret("gone") == "g2"
