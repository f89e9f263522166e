"""Property tests for the envelope: any value round-trips, any single-bit change is caught."""

from __future__ import annotations

import os
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_core.errors import EncryptionError, IntegrityError
from secrets_core.keys import envelope
from secrets_core.plugin import CipherSpec, PluginRegistry
from secrets_core.secret import SecretValue

CIPHERS = {  # the local ciphers, as discovery finds them ("transit" needs a Vault server)
    spec.name: spec.make(os.urandom(spec.key_size))
    for spec in (PluginRegistry().get(CipherSpec, name) for name in ("fernet", "aes-gcm"))
}
KEY_ID = "0123456789abcdef"
names = st.from_regex(r"[a-z_][a-z0-9_.\-]{0,20}(/[a-z_][a-z0-9_]{0,10}){0,2}", fullmatch=True)
values = st.one_of(st.binary(max_size=4096), st.text(max_size=1024))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(name=names, value=values, cipher=st.sampled_from(sorted(CIPHERS)))
def test_any_value_round_trips_with_its_type(name: str, value: str | bytes, cipher: str) -> None:
    token = envelope.seal(CIPHERS[cipher], KEY_ID, name, SecretValue(value))
    opened = envelope.open_token(CIPHERS[cipher], token, name).reveal()
    assert type(opened) is type(value) and opened == value


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(name=names, value=values, cipher=st.sampled_from(sorted(CIPHERS)), data=st.data())
def test_any_bit_flip_is_caught(
    name: str, value: str | bytes, cipher: str, data: st.DataObject
) -> None:
    token = bytearray(envelope.seal(CIPHERS[cipher], KEY_ID, name, SecretValue(value)))
    position = data.draw(st.integers(0, len(token) * 8 - 1))
    token[position // 8] ^= 1 << (position % 8)
    try:
        opened = envelope.open_token(CIPHERS[cipher], bytes(token), name)
    except EncryptionError:
        return
    raise AssertionError(f"a flipped bit at {position} opened as {opened!r}")


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(a=names, b=names, value=values)
def test_a_token_opens_only_under_its_own_name(a: str, b: str, value: str | bytes) -> None:
    if a == b:
        return
    token = envelope.seal(CIPHERS["fernet"], KEY_ID, a, SecretValue(value))
    try:
        envelope.open_token(CIPHERS["fernet"], token, b)
    except EncryptionError:
        return
    raise AssertionError("a token sealed for one name opened under another")


# --- payload header checks (a token that decrypts, made by hand with the right key) -----------

PLAINTEXT_CANARY = b"header-test-plaintext-canary"


def _hand_sealed(cipher: str, name: str, payload: bytes) -> bytes:
    """A token whose ciphertext authenticates under ``name`` but whose payload is ours."""
    ad = envelope.associated_data(name, KEY_ID)
    return envelope.PREFIX + KEY_ID.encode() + b":" + CIPHERS[cipher].encrypt(payload, ad)


def _header(name: str, kind: int) -> bytes:
    encoded = name.encode()
    return bytes([1, kind]) + len(encoded).to_bytes(2, "big") + encoded


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x02\x01" + b"\x00\x04name" + PLAINTEXT_CANARY, "unknown payload format"),
        (b"\x01\x07" + b"\x00\x04name" + PLAINTEXT_CANARY, "unknown payload format"),
        (b"\x01", "unknown payload format"),
        (_header("other", 1) + PLAINTEXT_CANARY, "sealed for another secret"),
        (_header("nam", 1) + PLAINTEXT_CANARY, "sealed for another secret"),
        (_header("name", 1) + b"\xff\xfe" + PLAINTEXT_CANARY, "invalid UTF-8"),
    ],
)
def test_a_bad_payload_header_is_an_integrity_error_without_the_plaintext(
    cipher: str, payload: bytes, message: str
) -> None:
    token = _hand_sealed(cipher, "name", payload)
    with pytest.raises(IntegrityError, match=message) as caught:
        envelope.open_token(CIPHERS[cipher], token, "name")
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    for frame, _line in traceback.walk_tb(caught.value.__traceback__):
        if frame.f_code.co_filename == __file__:
            continue  # this test's own frame holds the payload it made
        for value in frame.f_locals.values():
            if isinstance(value, (bytes, str)):
                assert "header-test-plaintext-canary" not in repr(value)


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_a_hand_made_payload_with_a_good_header_opens(cipher: str) -> None:
    """The checks above are not simply refusing everything hand-made."""
    text = _hand_sealed(cipher, "name", _header("name", 1) + "é".encode())
    raw = _hand_sealed(cipher, "name", _header("name", 0) + b"\xff\x00")
    assert envelope.open_token(CIPHERS[cipher], text, "name").reveal() == "é"
    assert envelope.open_token(CIPHERS[cipher], raw, "name").reveal() == b"\xff\x00"


@pytest.mark.parametrize(
    "head", [b"ss1:0123456789ABCDEF:", b"ss2:0123456789abcdef:", b"ss1:0123456789abcdef;"]
)
def test_a_bad_token_head_is_refused_every_time(head: bytes) -> None:
    """Heads are remembered once checked; a bad one must not be (the second call raises too)."""
    token = head + b"x" * 40
    for _ in range(2):
        with pytest.raises(IntegrityError, match="not a secure-secrets token"):
            envelope.key_id_of(token, "name")
