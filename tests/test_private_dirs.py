"""Every directory the tool makes is 0700 and every file 0600, parents included, whatever the
umask (hardening issue, item 3: under umask 000 the state directory and its parents were
created world-writable, and another user moved the audit log away)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.fsutil import ensure_private_dir
from secure_secrets import SecureSecretsManager


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in root.rglob("*")}


def test_everything_made_under_umask_000_is_private(isolated_home: Path, umask_000) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("app/token", "value")
    manager.rotate_encryption_key()
    modes = _modes(isolated_home)
    assert modes, "the tool made nothing under the isolated home"
    loose = {name: f"{mode:04o}" for name, mode in modes.items() if mode & 0o077}
    assert loose == {}
    dirs = [p for p in isolated_home.rglob("*") if p.is_dir()]
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o700 for d in dirs)


def test_missing_parents_are_made_private(tmp_path: Path, umask_000) -> None:
    target = tmp_path / "a" / "b" / "c"
    ensure_private_dir(target)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_parent_writable_by_others_is_reported(tmp_path: Path, caplog) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with caplog.at_level(logging.WARNING):
        ensure_private_dir(shared / "secure-secrets")
    assert f"chmod go-w {shared}" in caplog.text


def test_a_sticky_shared_parent_is_not_reported(tmp_path: Path, caplog) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    with caplog.at_level(logging.WARNING):
        ensure_private_dir(sticky / "secure-secrets")
    assert "chmod go-w" not in caplog.text
