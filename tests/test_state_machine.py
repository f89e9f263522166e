"""A hypothesis state machine: set, get, delete, rotate and reopen against a dict model.

Runs on every installed backend that the manager encrypts client-side and that can be used
with no server (the file backend, the template's memory backend, and any contrib backend
listed in BACKENDS that is installed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from secrets_core.plugin import get_registry
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretNotFoundError

pytestmark = pytest.mark.slow

BACKENDS = ["file", "sqlite", "memory"]  # memory: process-local, so "reopen" keeps the instance
NAMES = st.sampled_from(["a", "b", "dir/c", "dir/sub/d", "E"])
VALUES = st.one_of(st.binary(max_size=64), st.text(max_size=32))


def installed(name: str) -> bool:
    return name in get_registry().names("backend")


def machine_for(backend: str) -> type[RuleBasedStateMachine]:
    class SecretsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.root = Path(tempfile.mkdtemp(prefix="ss-state-"))
            self.model: dict[str, str | bytes] = {}
            self.manager = self.open()

        def open(self) -> SecureSecretsManager:
            return SecureSecretsManager(default_backend=backend, data_dir=self.root, audit_sinks=[])

        @rule(name=NAMES, value=VALUES)
        def store(self, name: str, value: str | bytes) -> None:
            self.manager.store_secret(name, value)
            self.model[name] = value

        @rule(name=NAMES)
        def retrieve(self, name: str) -> None:
            if name in self.model:
                got = self.manager.retrieve_secret(name)
                assert type(got) is type(self.model[name]) and got == self.model[name]
            else:
                with pytest.raises(SecretNotFoundError):
                    self.manager.retrieve_secret(name)

        @rule(name=NAMES)
        def delete(self, name: str) -> None:
            if name in self.model:
                self.manager.delete_secret(name)
                del self.model[name]
            else:
                with pytest.raises(SecretNotFoundError):
                    self.manager.delete_secret(name)

        @precondition(lambda self: bool(self.model))
        @rule(keep=st.integers(0, 2))
        def rotate(self, keep: int) -> None:
            event = self.manager.rotate_encryption_key(keep_old_keys=keep)
            assert event.details["backends"][backend]["failed"] == 0

        @precondition(lambda self: backend != "memory")
        @rule()
        def reopen(self) -> None:
            self.manager.close()
            self.manager = self.open()

        @invariant()
        def listing_matches_the_model(self) -> None:
            assert self.manager.list_secrets() == sorted(self.model)

        def teardown(self) -> None:
            self.manager.close()
            shutil.rmtree(self.root, ignore_errors=True)

    SecretsMachine.__name__ = f"SecretsMachine_{backend}"
    return SecretsMachine


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_behaves_like_a_dict(backend: str) -> None:
    if not installed(backend):
        pytest.skip(f"backend {backend!r} is not installed")
    machine = machine_for(backend)
    machine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
    machine.TestCase().runTest()
