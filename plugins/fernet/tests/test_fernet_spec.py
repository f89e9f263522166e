"""The cipher opens raw Fernet tokens by the spec itself (a faster read path): it must accept
exactly the tokens the ``cryptography`` library's ``Fernet.decrypt`` accepts, with the same
plaintext, and refuse every other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from secure_secrets_fernet.cipher import FernetCipher

from secrets_core.errors import IntegrityError

KEY = os.urandom(32)
LIBRARY = Fernet(base64.urlsafe_b64encode(KEY))
OURS = FernetCipher(KEY)


def library_open(token: bytes) -> bytes | None:
    try:
        return LIBRARY.decrypt(base64.urlsafe_b64encode(token))
    except InvalidToken:
        return None


def ours_open(token: bytes) -> bytes | None:
    return OURS._open(token)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_a_library_token_opens_to_the_same_plaintext(plaintext: bytes) -> None:
    token = base64.urlsafe_b64decode(LIBRARY.encrypt(plaintext))
    assert ours_open(token) == plaintext == library_open(token)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.data())
def test_an_altered_token_is_refused_as_the_library_refuses_it(plaintext: bytes, data) -> None:  # type: ignore[no-untyped-def]
    token = bytearray(base64.urlsafe_b64decode(LIBRARY.encrypt(plaintext)))
    how = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if how == "flip":
        at = data.draw(st.integers(0, len(token) - 1))
        token[at] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        token = token[: data.draw(st.integers(0, len(token) - 1))]
    else:
        token += data.draw(st.binary(min_size=1, max_size=40))
    assert ours_open(bytes(token)) is None
    assert library_open(bytes(token)) is None


def _signed(body: bytes) -> bytes:
    return body + hmac.new(KEY[:16], body, hashlib.sha256).digest()


@pytest.mark.parametrize("last_byte", [0, 17, 255])
def test_a_correctly_tagged_token_with_bad_padding_is_refused(last_byte: int) -> None:
    """Only the key holder can make one; refused all the same, as the library does."""
    iv = os.urandom(16)
    block = os.urandom(15) + bytes((last_byte,))
    encryptor = Cipher(algorithms.AES(KEY[16:]), modes.CBC(iv)).encryptor()
    token = _signed(b"\x80" + os.urandom(8) + iv + encryptor.update(block) + encryptor.finalize())
    assert ours_open(token) is None and library_open(token) is None


@pytest.mark.parametrize("version", [0x00, 0x7F, 0x81, 0xFF])
def test_a_correctly_tagged_token_of_another_version_is_refused(version: int) -> None:
    good = base64.urlsafe_b64decode(LIBRARY.encrypt(b"value"))
    token = _signed(bytes((version,)) + good[1:-32])
    assert ours_open(token) is None and library_open(token) is None


def test_decrypt_raises_integrity_error_without_the_plaintext() -> None:
    token = OURS.encrypt(b"canary-plaintext", b"ad")
    with pytest.raises(IntegrityError) as caught:
        OURS.decrypt(token[:-1] + bytes((token[-1] ^ 1,)), b"ad")
    assert "canary" not in str(caught.value)
    assert OURS.decrypt(token, b"ad") == b"canary-plaintext"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=40))
def test_a_token_sealed_here_is_a_fernet_token_the_library_opens(
    plaintext: bytes, associated: bytes
) -> None:
    """Sealing follows the spec by hand too: the library must open every token to the
    associated data's digest and the plaintext, and so must we."""
    token = OURS.encrypt(plaintext, associated)
    digest = hashlib.blake2b(associated, digest_size=16).digest()
    assert library_open(token) == digest + plaintext
    assert OURS.decrypt(token, associated) == plaintext
    assert (len(token) - 1 - 8 - 16 - 32) % 16 == 0 and token[0] == 0x80


def test_each_token_has_a_fresh_iv_and_the_current_time() -> None:
    import time

    before = int(time.time())
    first, second = OURS.encrypt(b"same", b"ad"), OURS.encrypt(b"same", b"ad")
    assert first[9:25] != second[9:25] and first != second
    assert before <= int.from_bytes(first[1:9], "big") <= int(time.time())
    assert LIBRARY.extract_timestamp(base64.urlsafe_b64encode(first)) >= before
