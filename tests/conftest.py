"""Fixtures of the core's tests (the repository-wide ones are in ../conftest.py)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest


@pytest.fixture
def secret_file_name() -> Callable[[str], str]:
    """The name of the file the default (file) backend keeps ``name``'s record in, as
    docs/file-backend.md ("Layout") documents it: lowercase unpadded base32 of the name, then
    ``.secret``. Core tests that tamper with a stored record find it here, without importing
    the plugin (its own tests pin the function: plugins/file/tests/test_file_layout.py)."""

    def file_name(name: str) -> str:
        return base64.b32encode(name.encode()).decode().rstrip("=").lower() + ".secret"

    return file_name
