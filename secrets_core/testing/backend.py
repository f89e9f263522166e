"""Contract tests for storage backends: :class:`BackendContract`, every backend contract in
one class.

The contracts live in single-job modules (``basics``: behaviour and capabilities,
``semantics``: the specified semantics, ``concurrency``: threads and processes, ``failure``: a
store that is down); this module composes them and keeps the names plugins imported from
``secrets_core.testing.backend`` before the split.
"""

from __future__ import annotations

from secrets_core.testing.basics import (
    EDGE_NAMES,
    VALUES,
    BackendCapabilityContract,
    BackendFixtures,
    CapabilityTests,
    CasContract,
    _BackendBasics,
    effective_capabilities,
    make_backend,
)
from secrets_core.testing.concurrency import ConcurrencyContract, MultiProcessContract
from secrets_core.testing.failure import FailureContract
from secrets_core.testing.semantics import SemanticsContract

__all__ = [
    "EDGE_NAMES",
    "VALUES",
    "BackendCapabilityContract",
    "BackendContract",
    "BackendFixtures",
    "CapabilityTests",
    "CasContract",
    "ConcurrencyContract",
    "FailureContract",
    "MultiProcessContract",
    "SemanticsContract",
    "effective_capabilities",
    "make_backend",
]


class BackendContract(
    _BackendBasics,
    BackendCapabilityContract,
    CasContract,
    SemanticsContract,
    ConcurrencyContract,
    MultiProcessContract,
    FailureContract,
):
    """Subclass and provide a ``backend_spec`` fixture returning the :class:`BackendSpec`.

    Override ``backend_options`` to pass options (the default is the spec's defaults), or
    ``backend`` itself to build the backend another way (then override ``backend_maker`` too
    if the backend declares ``Capability.MULTI_PROCESS`` and its spec and options alone do not
    reach the same store). Each test gets a fresh backend rooted in pytest's ``tmp_path``.
    Capability tests run only for declared capabilities; ``make_unavailable`` (see
    :class:`FailureContract`) turns on the store-down tests.
    """
