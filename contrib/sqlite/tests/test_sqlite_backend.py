"""The sqlite backend: the full conformance kit plus what the kit cannot see (files and
modes, WAL, pruning, corrupt and locked databases, error messages without values)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from secure_secrets_sqlite import plugin
from secure_secrets_sqlite.backend import SqliteBackend

from secrets_core.config import resolve_options
from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    IntegrityError,
    LockTimeoutError,
    SecretNotFoundError,
)
from secrets_core.plugin import BackendSpec, Capability, PluginContext
from secrets_core.testing import BackendContract, RotationContract

CANARY = "canary-Zq8vN3-value"


def spec() -> BackendSpec:
    return plugin.secrets_register_backends()[0]


def make(tmp_path: Path, **options: object) -> SqliteBackend:
    resolved = resolve_options(spec().options, options, "[backends.sqlite]")
    context = PluginContext(data_dir=tmp_path / "data", log_dir=tmp_path / "log")
    backend = spec().make(resolved, context)
    assert isinstance(backend, SqliteBackend)
    return backend


class TestSqliteBackend(BackendContract):
    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec()

    @pytest.fixture
    def backend_options(self, tmp_path: Path) -> dict[str, object]:
        return {"path": str(tmp_path / "store" / "kit.sqlite3"), "max_versions": 5}

    @pytest.fixture
    def make_unavailable(self) -> Callable[[SqliteBackend], None]:
        """The database file overwritten by something that is not a database."""

        def down(backend: SqliteBackend) -> None:
            backend.close()
            for file in backend.path.parent.iterdir():
                file.write_bytes(b"this is not a database" * 100)

        return down


class TestSqliteRotationContract(RotationContract):
    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return spec()

    @pytest.fixture
    def backend_options(self, tmp_path: Path) -> dict[str, object]:
        return {"path": str(tmp_path / "store" / "rotation.sqlite3")}


def test_declares_the_capabilities_it_implements() -> None:
    assert spec().capabilities == {
        Capability.LIST,
        Capability.VERSIONS,
        Capability.METADATA,
        Capability.SOFT_DELETE,
        Capability.MULTI_PROCESS,
    }


def test_default_path_modes_and_wal(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        backend = make(tmp_path)
        backend.write("k", b"v")
    finally:
        os.umask(old)
    db = tmp_path / "data" / "secrets.sqlite3"
    assert backend.path == db
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    for file in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    backend.close()


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "loose.sqlite3"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    make(tmp_path, path=str(db)).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_symlinked_database_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.sqlite3").touch()
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "real.sqlite3")
    with pytest.raises(BackendConfigurationError, match="symlink"):
        make(tmp_path, path=str(tmp_path / "link.sqlite3"))


def test_only_the_last_max_versions_are_kept(tmp_path: Path) -> None:
    backend = make(tmp_path, max_versions=3)
    versions = [backend.write("k", f"v{i}") for i in range(6)]
    assert versions == [1, 2, 3, 4, 5, 6]
    meta = backend.metadata("k")
    assert [v.version for v in meta.versions] == [4, 5, 6]
    assert meta.current_version == 6
    with pytest.raises(SecretNotFoundError, match="version 3"):
        backend.read_version("k", 3)
    assert backend.read_version("k", 4) == "v3"


def test_soft_deleted_secret_keeps_history_and_can_be_rewritten(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("k", b"one")
    backend.delete("k")
    assert backend.metadata("k").deleted is True
    with pytest.raises(SecretNotFoundError):
        backend.read_version("k", 1)
    assert backend.rewrite_versions("k", lambda v: bytes(v) + b"!") == 1  # rotation sees it
    backend.restore("k")
    assert backend.read("k") == b"one!"
    assert backend.write("k", b"two") == 2


def test_failed_rewrite_changes_nothing(tmp_path: Path) -> None:
    backend = make(tmp_path)
    for i in range(3):
        backend.write("k", f"v{i}".encode())
    seen: list[bytes | str] = []

    def transform(value: bytes | str) -> bytes | str:
        seen.append(value)
        if len(seen) == 2:
            raise IntegrityError("simulated corrupt token")
        return b"changed"

    with pytest.raises(IntegrityError, match="simulated"):
        backend.rewrite_versions("k", transform)
    assert [backend.read_version("k", v) for v in (1, 2, 3)] == [b"v0", b"v1", b"v2"]


def test_prefix_is_not_a_like_pattern(tmp_path: Path) -> None:
    backend = make(tmp_path)
    for name in ("a_b/x", "axb/x", "A_B/y", "a%b"):
        backend.write(name, b"v")
    assert backend.list_names("a_b/") == ["a_b/x"]
    assert backend.list_names("a%") == ["a%b"]


def test_values_survive_a_new_connection(tmp_path: Path) -> None:
    first = make(tmp_path)
    first.write("text", "pässwörd")
    first.write("blob", b"\x00\xff")
    first.close()
    second = make(tmp_path)
    assert second.read("text") == "pässwörd"
    assert second.read("blob") == b"\x00\xff"
    first.close()  # closing twice is fine


def test_garbage_file_raises_integrity_error(tmp_path: Path) -> None:
    db = tmp_path / "garbage.sqlite3"
    db.write_bytes(b"this is not a database, but it is long enough to look like a header" * 20)
    with pytest.raises(IntegrityError, match="corrupt") as info:
        make(tmp_path, path=str(db))
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_corrupt_row_raises_integrity_error_without_the_value(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("k", CANARY)
    with sqlite3.connect(backend.path) as conn:
        conn.execute("UPDATE versions SET kind = 'pickle'")
    with pytest.raises(IntegrityError) as info:
        backend.read("k")
    assert CANARY not in str(info.value)
    with sqlite3.connect(backend.path) as conn:
        conn.execute("UPDATE versions SET kind = 'str', value = x'ff'")
    with pytest.raises(IntegrityError):
        backend.read("k")


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(IntegrityError, match="not a secure-secrets store"):
        make(tmp_path, path=str(db))


def test_locked_beyond_the_timeout_raises_lock_timeout(tmp_path: Path) -> None:
    backend = make(tmp_path, timeout=0.2)
    backend.write("k", b"before")
    holder = sqlite3.connect(backend.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LockTimeoutError, match="locked") as info:
            backend.write("k", CANARY)
        assert isinstance(info.value, BackendUnavailableError)
        assert CANARY not in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert backend.read("k") == b"before", "WAL readers are not blocked by a writer"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert backend.write("k", b"after") == 2


def test_unusable_location_raises_backend_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(BackendUnavailableError):
        make(tmp_path, path=str(blocker / "db.sqlite3"))


@pytest.mark.parametrize(("option", "value"), [("max_versions", 0), ("timeout", -1)])
def test_bad_options_are_refused(tmp_path: Path, option: str, value: int) -> None:
    with pytest.raises(BackendConfigurationError, match=option):
        make(tmp_path, **{option: value})


def test_values_are_not_in_repr_or_not_found_messages(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("k", CANARY)
    assert CANARY not in repr(backend)
    with pytest.raises(SecretNotFoundError) as info:
        backend.read_version("k", 99)
    assert CANARY not in str(info.value) and "'k'" in str(info.value)


@pytest.mark.slow
def test_registering_does_not_import_the_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from secure_secrets_sqlite import plugin; plugin.secrets_register_backends();"
        "assert 'secure_secrets_sqlite.backend' not in sys.modules;"
        "assert 'sqlite3' not in sys.modules, 'sqlite3 imported at registration'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_threads_sharing_one_backend(tmp_path: Path) -> None:
    import threading

    backend = make(tmp_path)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            for j in range(20):
                backend.write(f"t{index}/n{j}", f"{index}-{j}")
                backend.write("shared", f"{index}-{j}")
                backend.read("shared")
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(backend.list_names("t")) == 120
    assert backend.metadata("shared").current_version == 120


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("k", b"parent")
    pid = os.fork()
    if pid == 0:  # the child: use the inherited object, then leave without cleanup
        code = 0
        try:
            backend.write("k", b"child")
            code = 0 if backend.read("k") == b"child" else 1
        except BaseException:
            code = 2
        os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert backend.read("k") == b"child"
    assert backend.write("k", b"parent again") == 3
