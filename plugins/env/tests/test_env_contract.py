"""The env backend passes the conformance kit (backend and rotation contracts), with and
without an env file. It does not declare ``Capability.MULTI_PROCESS``: each process reads its
own environment first, so another process's write is invisible where the variable is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from secrets_core.plugin import BackendSpec, get_registry
from secrets_core.testing import BackendContract, RotationContract


@pytest.fixture
def backend_spec() -> BackendSpec:
    return get_registry().lookup("backend", "env")


class TestEnvBackendProcessOnly(BackendContract):
    """Process environment only (no env file)."""


class TestEnvBackendWithEnvFile(BackendContract):
    """Process environment plus a dotenv file in tmp_path."""

    @pytest.fixture
    def backend_options(self, tmp_path: Path) -> dict[str, object]:
        return {"env_file": str(tmp_path / "app.env"), "prefix": "KIT_"}


class TestEnvRotationProcessOnly(RotationContract):
    """Key rotation reaches every value in the process environment."""


class TestEnvRotationWithEnvFile(RotationContract):
    """Key rotation reaches every value in the env file (and the process environment)."""

    @pytest.fixture
    def backend_options(self, tmp_path: Path) -> dict[str, object]:
        return {"env_file": str(tmp_path / "app.env"), "prefix": "KIT_"}
