"""aes-gcm and the three KDFs against the conformance kit, plus argon2id's fallback."""

from __future__ import annotations

import logging

import pytest
from secure_secrets_fernet import kdfs, plugin

from secrets_core.plugin import CipherSpec, KdfSpec
from secrets_core.testing import CipherContract, KdfContract


def _spec(specs: list, name: str):
    return next(spec for spec in specs if spec.name == name)


class TestAesGcmContract(CipherContract):
    @pytest.fixture
    def cipher_spec(self) -> CipherSpec:
        return _spec(plugin.secrets_register_ciphers(), "aes-gcm")


class TestArgon2idContract(KdfContract):
    @pytest.fixture
    def kdf_spec(self) -> KdfSpec:
        return _spec(plugin.secrets_register_kdfs(), "argon2id")

    @pytest.fixture
    def fast_params(self) -> dict[str, int]:
        return {"memory_kib": 19 * 1024, "iterations": 2, "lanes": 1}

    @pytest.fixture
    def weak_params(self) -> dict[str, int]:
        return {"memory_kib": 8 * 1024, "iterations": 2, "lanes": 1}

    @pytest.fixture
    def huge_params(self) -> dict[str, int]:
        return {"memory_kib": 64 * 1024 * 1024, "iterations": 2, "lanes": 1}  # 64 GiB


@pytest.mark.slow  # KDFs at their OWASP floors: seconds each
class TestScryptContract(KdfContract):
    @pytest.fixture
    def kdf_spec(self) -> KdfSpec:
        return _spec(plugin.secrets_register_kdfs(), "scrypt")

    @pytest.fixture
    def fast_params(self) -> dict[str, int]:
        return {"log2_n": 17, "r": 8, "p": 1}

    @pytest.fixture
    def weak_params(self) -> dict[str, int]:
        return {"log2_n": 14, "r": 8, "p": 1}

    @pytest.fixture
    def huge_params(self) -> dict[str, int]:
        return {"log2_n": 30, "r": 8, "p": 1}


@pytest.mark.slow  # KDFs at their OWASP floors: seconds each
class TestPbkdf2Contract(KdfContract):
    @pytest.fixture
    def kdf_spec(self) -> KdfSpec:
        return _spec(plugin.secrets_register_kdfs(), "pbkdf2-sha256")

    @pytest.fixture
    def fast_params(self) -> dict[str, int]:
        return {"iterations": 600_000}

    @pytest.fixture
    def weak_params(self) -> dict[str, int]:
        return {"iterations": 100_000}

    @pytest.fixture
    def huge_params(self) -> dict[str, int]:
        return {"iterations": 10**12}


@pytest.mark.parametrize(
    "name, params",
    [
        ("argon2id", {"memory_kib": "19456"}),
        ("argon2id", {"memory_kib": True}),
        ("scrypt", {"log2_n": 20, "r": 32, "p": 1}),  # 128 * 2^20 * 32 = 4 GiB
        ("pbkdf2-sha256", {"iterations": 600_000, "salt_size": 16}),
    ],
)
def test_malformed_params_are_refused(name: str, params: dict) -> None:
    from secrets_core.errors import ConfigError

    with pytest.raises(ConfigError):
        _spec(plugin.secrets_register_kdfs(), name).make(params)


def test_argon2id_falls_back_to_scrypt_with_a_notice(monkeypatch, caplog) -> None:
    monkeypatch.setattr(kdfs, "argon2_supported", lambda: False)  # an OpenSSL without Argon2
    with caplog.at_level(logging.WARNING, logger="secure_secrets_fernet"):
        kdf = _spec(plugin.secrets_register_kdfs(), "argon2id").make({})
    assert kdf.name == "scrypt" and kdf.params == {"log2_n": 17, "r": 8, "p": 1}
    assert "argon2id is not supported" in caplog.text
