"""On-disk layout, private modes whatever the umask, loose modes, foreign owners, symlinks."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import pytest
from secure_secrets_file.backend import (
    DELETED_SUFFIX,
    FileBackend,
    LoosePermissionsWarning,
    file_name,
    secret_name,
)

from secrets_core.errors import BackendConfigurationError, SecretsError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_one_record_file_per_secret_named_by_base32(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    for i in range(3):
        backend.write("billing/stripe/key", f"v{i}")
    backend.write("Other", b"x")
    records = sorted(p.name for p in backend.root.iterdir() if not p.name.startswith("."))
    assert records == sorted([file_name("billing/stripe/key"), file_name("Other")])
    assert file_name("Other") != file_name("other"), "case is kept through the encoding"
    assert all(
        set(r[: -len(".secret")]) <= set("abcdefghijklmnopqrstuvwxyz234567") for r in records
    )
    assert secret_name(file_name("billing/stripe/key")) == "billing/stripe/key"
    assert file_name("billing/stripe_key") == "mjuwy3djnzts643uojuxazk7nnsxs.secret"  # the docs'
    locks = sorted(p.name for p in backend.root.iterdir() if p.name.endswith(".lock"))
    assert locks == sorted("." + r.replace(".secret", ".lock") for r in records)


@pytest.mark.parametrize(
    "file",
    ["x.secret", "MZXW6.secret", "mzxw6===.secret", ".mzxw6.secret", "mzxw6.txt", "gf.secret"],
)
def test_foreign_files_are_not_listed(tmp_path: Path, file: str) -> None:
    backend = FileBackend(tmp_path / "store")
    backend.write("foo", "v")
    (backend.root / file).write_bytes(b"?")
    assert backend.list_names("") == ["foo"]


def test_list_is_a_prefix_filter(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    for name in ("app/a", "app/b", "apple", "other"):
        backend.write(name, "v")
    assert backend.list_names("app/") == ["app/a", "app/b"]
    assert backend.list_names("app") == ["app/a", "app/b", "apple"]
    assert backend.list_names("zzz") == []


def test_everything_is_private_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        backend = FileBackend(tmp_path / "deep" / "store")
        backend.write("a", "1")
        backend.write("a", "2")
        backend.write("b", "x")
        backend.delete("b")
        backend.set_custom_metadata("a", {"k": "v"})
    finally:
        os.umask(old)
    assert mode(backend.root) == 0o700
    entries = list(backend.root.iterdir())
    assert {p.suffix for p in entries} == {".secret", DELETED_SUFFIX, ".lock"}
    for path in entries:
        assert mode(path) == 0o600, (path.name, oct(mode(path)))


def test_an_existing_loose_directory_is_tightened(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    FileBackend(root)
    assert mode(root) == 0o700


def loosen(backend: FileBackend, name: str, bits: int = 0o644) -> Path:
    path = backend.root / file_name(name)
    path.chmod(bits)
    return path


@pytest.mark.parametrize("bits", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_loose_secret_file_is_refused_by_default(tmp_path: Path, bits: int) -> None:
    backend = FileBackend(tmp_path / "store")
    backend.write("k", "v")
    loosen(backend, "k", bits)
    for call in (
        lambda: backend.read("k"),
        lambda: backend.write("k", "w"),
        lambda: backend.metadata("k"),
    ):
        with pytest.raises(BackendConfigurationError, match=f"'k'.*{bits:04o}.*chmod 600"):
            call()
    assert mode(backend.root / file_name("k")) == bits, "nothing is changed behind the user"


def test_a_loose_secret_file_warns_once_when_configured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FileBackend(tmp_path / "store", on_loose_permissions="warn")
    backend.write("k", "v")
    loosen(backend, "k")
    with caplog.at_level(logging.WARNING), pytest.warns(LoosePermissionsWarning, match="0644"):
        assert backend.read("k") == "v"
        assert backend.read("k") == "v"
    assert len([r for r in caplog.records if "0644" in r.getMessage()]) == 1
    backend.write("k", "w")
    assert mode(backend.root / file_name("k")) == 0o600, "a rewrite is private again"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    backend.write("k", "v")
    os.chown(backend.root / file_name("k"), 4321, 4321)
    with pytest.raises(BackendConfigurationError, match="owned by uid 4321"):
        backend.read("k")
    os.chown(backend.root, 4321, 4321)
    with pytest.raises(BackendConfigurationError, match="owned by uid 4321"):
        FileBackend(backend.root)


def test_a_symlinked_store_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(BackendConfigurationError, match="symlink"):
        FileBackend(tmp_path / "link")
    assert list(real.iterdir()) == []


def test_a_store_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a directory")
    with pytest.raises(BackendConfigurationError, match="not a dir"):
        FileBackend(tmp_path / "store")


@pytest.mark.parametrize("operation", ["read", "write", "delete", "metadata", "purge"])
def test_a_symlinked_secret_file_is_refused(tmp_path: Path, operation: str) -> None:
    backend = FileBackend(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.write_bytes(b"attacker data")
    backend.write("victim", "v")
    (backend.root / file_name("victim")).unlink()
    (backend.root / file_name("victim")).symlink_to(outside)
    call = {
        "read": lambda: backend.read("victim"),
        "write": lambda: backend.write("victim", "new"),
        "delete": lambda: backend.delete("victim"),
        "metadata": lambda: backend.metadata("victim"),
        "purge": lambda: backend.purge("victim"),
    }[operation]
    if operation == "purge":
        call()  # purge removes the link itself, never its target
        assert outside.read_bytes() == b"attacker data"
        return
    with pytest.raises(BackendConfigurationError, match="symlink"):
        call()
    assert outside.read_bytes() == b"attacker data"


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    target = tmp_path / "elsewhere"
    (backend.root / ("." + file_name("k").replace(".secret", ".lock"))).symlink_to(target)
    with pytest.raises(BackendConfigurationError, match="symlink"):
        backend.write("k", "v")
    assert not target.exists()


def test_a_planted_fifo_does_not_hang_a_reader(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    os.mkfifo(backend.root / file_name("k"), 0o600)
    started = time.monotonic()
    with pytest.raises(SecretsError, match="not a regular file"):
        backend.read("k")
    assert time.monotonic() - started < 5


def test_default_location_is_the_data_dir_store(isolated_home: Path) -> None:
    from secure_secrets import SecureSecretsManager

    SecureSecretsManager().store_secret("k", "v")
    store = isolated_home / "data" / "secure-secrets" / "store"
    assert (store / file_name("k")).is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may create directories anywhere")
def test_an_uncreatable_store_is_a_configuration_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(BackendConfigurationError, match="cannot be created"):
            FileBackend(locked / "store")
    finally:
        locked.chmod(0o700)


def test_a_store_under_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(BackendConfigurationError, match="cannot be created"):
        FileBackend(tmp_path / "plain" / "store")
