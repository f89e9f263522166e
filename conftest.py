"""Shared fixtures for the whole repository (tests/, plugins/*/tests, contrib/*/tests).

Every test runs against its own config, data and log directories.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.plugin import reset_registry
from secrets_core.testing.fixtures import isolate_home


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
