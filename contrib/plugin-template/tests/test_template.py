"""The template's one conformance test: subclass the kit's contract, give it the spec."""

from __future__ import annotations

import pytest
from secure_secrets_template import plugin

from secrets_core.plugin import BackendSpec
from secrets_core.testing import BackendContract


class TestMemoryBackend(BackendContract):
    @pytest.fixture
    def backend_spec(self) -> BackendSpec:
        return plugin.secrets_register_backends()[0]
