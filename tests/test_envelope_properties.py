"""Property tests for the envelope: any value round-trips, any single-bit change is caught."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from secure_secrets_fernet.plugin import secrets_register_ciphers

from secrets_core import envelope
from secrets_core.errors import EncryptionError
from secrets_core.secret import SecretValue

CIPHERS = {
    spec.name: spec.factory(os.urandom(spec.key_size)) for spec in secrets_register_ciphers()
}
KEY_ID = "0123456789abcdef"
names = st.from_regex(r"[a-z_][a-z0-9_.\-]{0,20}(/[a-z_][a-z0-9_]{0,10}){0,2}", fullmatch=True)
values = st.one_of(st.binary(max_size=4096), st.text(max_size=1024))


@settings(max_examples=150, deadline=None)
@given(name=names, value=values, cipher=st.sampled_from(sorted(CIPHERS)))
def test_any_value_round_trips_with_its_type(name: str, value: str | bytes, cipher: str) -> None:
    token = envelope.seal(CIPHERS[cipher], KEY_ID, name, SecretValue(value))
    opened = envelope.open_token(CIPHERS[cipher], token, name).reveal()
    assert type(opened) is type(value) and opened == value


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
