"""The file backend against the conformance kit, plus its own on-disk guarantees."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from secure_secrets_file import plugin
from secure_secrets_file.backend import FileBackend, file_name

from secrets_core.errors import BackendConfigurationError, IntegrityError
from secrets_core.plugin import BackendSpec, PluginContext
from secrets_core.testing import BackendContract, RotationContract


@pytest.fixture
def spec() -> BackendSpec:
    return plugin.secrets_register_backends()[0]


class TestFileBackendContract(BackendContract):
    @pytest.fixture
    def backend_spec(self, spec: BackendSpec) -> BackendSpec:
        return spec

    @pytest.fixture
    def make_unavailable(self) -> Callable[[FileBackend], None]:
        """The store directory replaced by a file (an unmounted volume, a broken path)."""

        def down(backend: FileBackend) -> None:
            root = backend.inner.root if hasattr(backend, "inner") else backend.root
            shutil.rmtree(root)
            Path(root).write_text("not a directory")

        return down


class TestFileRotationContract(RotationContract):
    @pytest.fixture
    def backend_spec(self, spec: BackendSpec) -> BackendSpec:
        return spec


def make(tmp_path: Path) -> FileBackend:
    return FileBackend.from_options({}, PluginContext(tmp_path / "data", tmp_path / "log"))


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        backend = make(tmp_path)
        backend.write("a", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(backend.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((backend.root / file_name("a")).stat().st_mode) == 0o600


def test_the_name_is_not_the_path(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("billing/key", b"x")
    entries = [p.name for p in backend.root.iterdir() if not p.name.startswith(".")]
    assert entries == [file_name("billing/key")]
    assert "/" not in entries[0] and "billing" not in entries[0]


def test_a_symlinked_store_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "store").symlink_to(real)
    with pytest.raises(BackendConfigurationError, match="symlink"):
        make(tmp_path)


def test_a_truncated_file_is_an_integrity_error_not_empty(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.write("a", b"value")
    (backend.root / file_name("a")).write_bytes(b"SS")
    with pytest.raises(IntegrityError, match="'a'"):
        backend.read("a")


def test_stale_temp_files_are_swept_on_open(tmp_path: Path) -> None:
    backend = make(tmp_path)
    stale = backend.root / f".{file_name('a')}.abc.tmp"
    stale.write_bytes(b"half a write")
    make(tmp_path)
    assert not stale.exists()
