"""Fixtures for the env backend's tests: the backend sets real process variables, so
os.environ is restored after every test and no test leaks variables into another."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def restore_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start without any SECURE_SECRET_* variable (monkeypatch puts them back afterwards)
    and undo every variable a test (or the backend under test) set or removed."""
    for variable in list(os.environ):
        if variable.startswith("SECURE_SECRET_"):
            monkeypatch.delenv(variable)
    before = dict(os.environ)
    yield
    for variable in set(os.environ) - set(before):
        del os.environ[variable]
    for variable, value in before.items():
        if os.environ.get(variable) != value:
            os.environ[variable] = value
