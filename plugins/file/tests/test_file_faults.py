"""Corrupt files, full disks, failing fsync and rename: typed errors, nothing lost, no leaks.

Only the I/O faults (ENOSPC, EIO, a failing rename or directory fsync) are simulated, by
patching ``os`` functions: they cannot be produced on demand on a healthy disk.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from secure_secrets_file.backend import FileBackend, file_name

from secrets_core.errors import (
    BackendUnavailableError,
    IntegrityError,
    SecretNotFoundError,
    SecretsError,
)
from secrets_core.fsutil import TEMP_SUFFIX
from secure_secrets import SecureSecretsManager

CANARY = "CANARY-9f2c1e-do-not-leak"


@pytest.fixture
def backend(tmp_path: Path) -> FileBackend:
    return FileBackend(tmp_path / "store")


def path_of(backend: FileBackend, name: str) -> Path:
    return backend.root / file_name(name)


def temp_files(backend: FileBackend) -> list[Path]:
    return list(backend.root.glob(f".*{TEMP_SUFFIX}"))


def assert_no_canary(exc: BaseException) -> None:
    text = f"{exc}{exc!r}{exc.__cause__!r}{exc.__context__!r}"
    assert CANARY not in text


# --- corruption ------------------------------------------------------------------------------


def multi_version(backend: FileBackend) -> bytes:
    backend.write("k", CANARY + "-1")
    backend.write("k", (CANARY + "-2").encode())
    backend.set_custom_metadata("k", {"owner": "x"})
    return path_of(backend, "k").read_bytes()


@pytest.mark.slow
def test_every_truncation_is_an_integrity_error_naming_the_secret(backend: FileBackend) -> None:
    original = multi_version(backend)
    for keep in range(len(original)):
        path_of(backend, "k").write_bytes(original[:keep])
        for call in (
            lambda: backend.read("k"),
            lambda: backend.read_version("k", 1),
            lambda: backend.metadata("k"),
            lambda: backend.write("k", "x"),
            lambda: backend.rewrite_versions("k", lambda v: v),
        ):
            with pytest.raises(IntegrityError, match="'k'") as info:
                call()
            assert_no_canary(info.value)
    assert temp_files(backend) == []


@pytest.mark.slow
def test_every_flipped_byte_is_an_integrity_error(backend: FileBackend) -> None:
    original = multi_version(backend)
    for index in range(len(original)):
        for mask in (0x01, 0xFF):
            corrupt = bytearray(original)
            corrupt[index] ^= mask
            path_of(backend, "k").write_bytes(bytes(corrupt))
            with pytest.raises(IntegrityError, match="'k'") as info:
                backend.read("k")
            assert_no_canary(info.value)
            with pytest.raises(IntegrityError):
                backend.read_version("k", 1)
    path_of(backend, "k").write_bytes(original)
    assert backend.read("k") == (CANARY + "-2").encode()


def resign(raw: bytes) -> bytes:
    """The record with a checksum recomputed over its (altered) body."""
    return raw[:4] + hashlib.sha256(raw[36:]).digest() + raw[36:]


@pytest.mark.parametrize(
    "old, new",
    [
        (b'"versions":[[1,', b'"versions":[[5,'),  # numbers not increasing
        (b",0,1],[2,", b",0,7],[2,"),  # an old value's length does not add up
        (b",0,1],[2,", b",9,1],[2,"),  # unknown value type
        (b'"custom":{}', b'"custom":[]'),
        (b'"created":"', b'"created":1,"x":"'),
    ],
)
def test_a_checksummed_but_inconsistent_record_is_refused(
    backend: FileBackend, old: bytes, new: bytes
) -> None:
    """A record whose checksum matches but whose metadata lies (a buggy or hostile writer)."""
    backend.write("k", b"a")
    backend.write("k", b"bb")
    raw = path_of(backend, "k").read_bytes()
    assert old in raw
    path_of(backend, "k").write_bytes(resign(raw.replace(old, new, 1)))
    with pytest.raises(IntegrityError, match="'k'"):
        backend.metadata("k")


def test_a_record_copied_onto_another_secret_is_refused(backend: FileBackend) -> None:
    backend.write("alpha", "a")
    backend.write("beta", "b")
    path_of(backend, "beta").write_bytes(path_of(backend, "alpha").read_bytes())
    with pytest.raises(IntegrityError, match="'beta'.*another secret"):
        backend.read("beta")
    assert backend.read("alpha") == "a"


@pytest.mark.parametrize("content", [b"", b"SSF2", b"garbage" * 20, os.urandom(300)])
def test_garbage_is_never_read_as_empty_or_missing(backend: FileBackend, content: bytes) -> None:
    path_of(backend, "k").write_bytes(content)
    path_of(backend, "k").chmod(0o600)
    with pytest.raises(IntegrityError):
        backend.read("k")
    assert backend.list_names("") == ["k"], "a corrupt secret is still listed, not hidden"


def test_a_corrupt_secret_can_be_purged_and_stored_again(backend: FileBackend) -> None:
    backend.write("k", "v")
    path_of(backend, "k").write_bytes(b"SSF2 broken")
    with pytest.raises(IntegrityError):
        backend.write("k", "new")  # history is not silently dropped
    backend.purge("k")
    assert backend.write("k", "new") == 1


def test_the_manager_reports_a_corrupt_record_naming_the_secret(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("db/pw", CANARY)
    path = isolated_home / "data" / "secure-secrets" / "store" / file_name("db/pw")
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(IntegrityError, match="'db/pw'") as info:
        manager.retrieve_secret("db/pw")
    assert_no_canary(info.value)


# --- I/O faults during a write ---------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("function", ["write", "fsync"])
def test_a_failing_write_or_fsync_keeps_the_previous_version(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch, code: int, function: str
) -> None:
    backend.write("k", "previous")
    before = path_of(backend, "k").read_bytes()

    def fail(*args: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, function, fail)
    with pytest.raises(BackendUnavailableError, match="previous version is intact") as info:
        backend.write("k", CANARY)
    monkeypatch.undo()
    assert errno.errorcode[code] in str(info.value)
    assert_no_canary(info.value)
    assert path_of(backend, "k").read_bytes() == before
    assert backend.read("k") == "previous"
    assert temp_files(backend) == [], "the temp file is removed"
    assert backend.write("k", "next") == 2, "the store works once the disk does"


def test_a_failing_rename_leaves_the_original(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.write("k", "previous")
    before = path_of(backend, "k").read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(BackendUnavailableError, match="previous version is intact"):
        backend.write("k", "new")
    with pytest.raises(BackendUnavailableError, match="unchanged"):
        backend.delete("k")
    monkeypatch.undo()
    assert path_of(backend, "k").read_bytes() == before
    assert temp_files(backend) == []
    assert backend.list_names("") == ["k"]


def test_a_failing_directory_fsync_says_the_new_version_is_in_place(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.write("k", "previous")
    real_fsync = os.fsync

    def fail_on_directories(fd: int) -> None:
        import stat

        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fail_on_directories)
    with pytest.raises(BackendUnavailableError, match="new version is in place"):
        backend.write("k", "new")
    monkeypatch.undo()
    assert backend.read("k") == "new"


def test_an_unreadable_file_is_unavailable_not_missing(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.write("k", "v")
    real_read = os.read

    def eio(fd: int, size: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "read", eio)
    with pytest.raises(BackendUnavailableError, match="'k'"):
        backend.read("k")
    monkeypatch.setattr(os, "read", real_read)
    assert backend.read("k") == "v"


# --- temp files --------------------------------------------------------------------------------


def test_stale_temp_files_of_any_secret_are_swept_on_open(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    backend.write("k", "v")
    stem = file_name("k").split(".")[0]
    stale = [
        backend.root / f".{stem}.secret.abc123{TEMP_SUFFIX}",
        backend.root / f".{stem}.deleted.zz9{TEMP_SUFFIX}",
        backend.root / f".{file_name('never-written')}.q{TEMP_SUFFIX}",
    ]
    for path in stale:
        path.write_bytes(b"half a write")
    foreign = backend.root / ".not-base32!.tmp"
    foreign.write_bytes(b"not ours")
    FileBackend(tmp_path / "store")
    assert not any(p.exists() for p in stale)
    assert foreign.exists(), "only files named like our temp files are swept"
    assert backend.read("k") == "v"


def test_errors_never_carry_the_value(backend: FileBackend) -> None:
    backend.write("k", CANARY)
    path_of(backend, "k").write_bytes(path_of(backend, "k").read_bytes()[:-3])
    for call in (lambda: backend.read("k"), lambda: backend.metadata("k")):
        with pytest.raises(SecretsError) as info:
            call()
        assert_no_canary(info.value)
    assert CANARY not in repr(backend)
    with pytest.raises(SecretNotFoundError) as missing:
        backend.read("other")
    assert_no_canary(missing.value)
