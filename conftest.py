"""Shared fixtures for the whole repository (tests/, plugins/*/tests, contrib/*/tests).

Every test runs against its own config, data and log directories.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secrets_core.plugin import reset_registry
from secrets_core.testing.fixtures import isolate_home


def pytest_itemcollected(item: pytest.Item) -> None:
    """The kit's multi-process contract starts processes: ``slow`` here (the kit itself does
    not mark it, so that a plugin's project need not register the marker)."""
    if getattr(item, "originalname", None) == "test_processes_sharing_one_store_lose_no_write":
        item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point platformdirs (XDG) and every SECURE_SECRETS_* variable at a fresh temp dir, and
    start without SECURE_SECRET_* variables (the env backend's). Afterwards the process
    environment is restored exactly, including variables the env backend set itself."""
    for variable in list(os.environ):
        if variable.startswith("SECURE_SECRET_"):
            monkeypatch.delenv(variable)
    before = dict(os.environ)
    yield isolate_home(tmp_path / "home", monkeypatch)
    reset_registry()
    for variable in set(os.environ) - set(before):
        del os.environ[variable]
    for variable, value in before.items():
        if os.environ.get(variable) != value:
            os.environ[variable] = value


@pytest.fixture
def kill_once_flagged() -> Callable[[subprocess.Popen[bytes], Path], None]:
    """``kill_once_flagged(child, flag)`` waits until ``child`` creates ``flag`` (it has taken a
    lock, say), then kills it with SIGKILL and reaps it; the test fails if the child exits
    first or the flag has not appeared within 60 seconds."""

    def kill(child: subprocess.Popen[bytes], flag: Path) -> None:
        try:
            deadline = time.monotonic() + 60
            while not flag.exists():
                assert child.poll() is None, f"the child exited ({child.returncode}) first"
                assert time.monotonic() < deadline, f"the child never made {flag.name}"
                time.sleep(0.01)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()

    return kill
