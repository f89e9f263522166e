"""Shared fixtures for the whole repository (tests/, plugins/*/tests, contrib/*/tests).

Every test runs against its own config, data and log directories.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.plugins import reset_registry
from secrets_core.testing.fixtures import isolate_home


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point platformdirs (XDG) and every SECURE_SECRETS_* variable at a fresh temp dir."""
    yield isolate_home(tmp_path / "home", monkeypatch)
    reset_registry()
