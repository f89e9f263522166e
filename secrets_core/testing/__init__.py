"""The conformance kit: contract tests a plugin subclasses with one fixture.

    from secrets_core.testing import BackendContract

    class TestMyBackend(BackendContract):
        @pytest.fixture
        def backend_spec(self):
            return my_plugin.secrets_register_backends()[0]

Each contract's docstring names the fixture it needs. Failure messages say what the contract
expects, so a plugin author can fix the plugin without reading the kit.

Enable the kit's fixtures (``secrets_home``: an isolated config/data/log home) with one line
in a ``conftest.py``::

    pytest_plugins = ["secrets_core.testing"]
"""

from secrets_core.testing.audit import AuditSinkContract
from secrets_core.testing.backend import (
    BackendCapabilityContract,
    BackendContract,
    BackendFixtures,
    CasContract,
    ConcurrencyContract,
    FailureContract,
    MultiProcessContract,
    SemanticsContract,
    effective_capabilities,
)
from secrets_core.testing.cipher import CipherContract
from secrets_core.testing.fixtures import secrets_home
from secrets_core.testing.kdf import KdfContract
from secrets_core.testing.key_source import KeySourceContract
from secrets_core.testing.rotation import RotationContract

__all__ = [
    "AuditSinkContract",
    "BackendCapabilityContract",
    "BackendContract",
    "BackendFixtures",
    "CasContract",
    "CipherContract",
    "ConcurrencyContract",
    "FailureContract",
    "MultiProcessContract",
    "SemanticsContract",
    "RotationContract",
    "KdfContract",
    "KeySourceContract",
    "effective_capabilities",
    "secrets_home",
]
