"""Contract tests for ciphers."""

from __future__ import annotations

import os

import pytest

from secrets_core.errors import EncryptionError, IntegrityError
from secrets_core.plugin._api import Cipher, CipherSpec

PLAINTEXT = b"contract plaintext \x00\xff" * 3
AD = b"secret-name"


class CipherContract:
    """Subclass and provide a ``cipher_spec`` fixture returning the :class:`CipherSpec`."""

    @pytest.fixture
    def cipher(self, cipher_spec: CipherSpec) -> Cipher:
        return cipher_spec.make(os.urandom(cipher_spec.key_size))

    def test_round_trip(self, cipher: Cipher) -> None:
        for plaintext in (b"", PLAINTEXT, os.urandom(65536)):
            token = cipher.encrypt(plaintext, AD)
            assert cipher.decrypt(token, AD) == plaintext, "decrypt(encrypt(p)) must return p"

    def test_encryption_is_not_deterministic(self, cipher: Cipher) -> None:
        assert cipher.encrypt(PLAINTEXT, AD) != cipher.encrypt(PLAINTEXT, AD), (
            "two encryptions of the same plaintext must differ (random nonce/IV)"
        )

    def test_ciphertext_does_not_contain_the_plaintext(self, cipher: Cipher) -> None:
        assert PLAINTEXT not in cipher.encrypt(PLAINTEXT, AD)

    def test_every_tampered_byte_raises_integrity_error(self, cipher: Cipher) -> None:
        token = cipher.encrypt(PLAINTEXT, AD)
        for index in range(len(token)):
            tampered = bytearray(token)
            tampered[index] ^= 0x01
            with pytest.raises(IntegrityError):
                cipher.decrypt(bytes(tampered), AD)
                pytest.fail(f"flipping a bit of byte {index} must raise IntegrityError")

    def test_truncated_and_garbage_tokens_raise(self, cipher: Cipher) -> None:
        token = cipher.encrypt(PLAINTEXT, AD)
        for bad in (b"", token[:1], token[: len(token) // 2], token[:-1], b"garbage" * 10):
            with pytest.raises(IntegrityError):
                cipher.decrypt(bad, AD)

    def test_wrong_key_raises(self, cipher: Cipher, cipher_spec: CipherSpec) -> None:
        other = cipher_spec.make(os.urandom(cipher_spec.key_size))
        with pytest.raises(EncryptionError):
            other.decrypt(cipher.encrypt(PLAINTEXT, AD), AD)

    def test_wrong_associated_data_raises(self, cipher: Cipher) -> None:
        token = cipher.encrypt(PLAINTEXT, AD)
        with pytest.raises(IntegrityError):
            cipher.decrypt(token, b"another-name")

    def test_repr_does_not_show_the_key(self, cipher_spec: CipherSpec) -> None:
        key = os.urandom(cipher_spec.key_size)
        text = repr(cipher_spec.make(key))
        assert key.hex() not in text and repr(key) not in text, "repr must not reveal the key"
