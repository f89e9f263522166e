"""The fernet cipher against the conformance kit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from secure_secrets_fernet import plugin

from secrets_core.errors import EncryptionError
from secrets_core.plugin import CipherSpec
from secrets_core.testing import CipherContract


class TestFernetContract(CipherContract):
    @pytest.fixture
    def cipher_spec(self) -> CipherSpec:
        return plugin.secrets_register_ciphers()[0]


def test_a_key_of_the_wrong_size_is_refused() -> None:
    spec = plugin.secrets_register_ciphers()[0]
    with pytest.raises(EncryptionError, match="32-byte"):
        spec.make(os.urandom(16))


@pytest.mark.slow
def test_registration_does_not_import_cryptography() -> None:
    code = (
        "import sys; from secure_secrets_fernet import plugin; "
        "plugin.secrets_register_ciphers(); print('cryptography' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
