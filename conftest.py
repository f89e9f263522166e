"""Shared fixtures for the whole repository (tests/, plugins/*/tests, contrib/*/tests).

Every test runs against its own config, data and log directories.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.plugins import reset_registry


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point platformdirs (XDG) and every SECURE_SECRETS_* variable at a fresh temp dir."""
    for var in list(os.environ):
        if var.startswith("SECURE_SECRETS_"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    for xdg, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(xdg, str(home / sub))
    reset_registry()
    yield home
    reset_registry()
