"""Fixtures the kit provides when enabled with ``pytest_plugins = ["secrets_core.testing"]``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secrets_core.plugin._registry import reset_registry


def isolate_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs (XDG) at ``home`` and clear every ``SECURE_SECRETS_*`` variable, so
    a test never touches the real config, keys, store or audit log."""
    for var in list(os.environ):
        if var.startswith("SECURE_SECRETS_"):
            monkeypatch.delenv(var)
    for xdg, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(xdg, str(home / sub))
    reset_registry()
    return home


@pytest.fixture
def secrets_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, isolated home for secure-secrets: ``home/config``, ``home/data``,
    ``home/state`` and ``home/cache`` exist (0700) and platformdirs points there, so
    ``secrets_home / "config" / "secure-secrets" / "config.toml"`` is the config file a
    manager reads (or pass ``config_path=`` / set ``SECURE_SECRETS_CONFIG``)."""
    home = isolate_home(tmp_path / "home", monkeypatch)
    for sub in ("config", "data", "state", "cache"):
        (home / sub / "secure-secrets").mkdir(mode=0o700, parents=True, exist_ok=True)
    yield home
    reset_registry()
