"""Any value a caller passes, valid or not, comes back intact or is refused with a typed error
that carries none of it: not in the message, repr, args, chained exceptions or the locals of
our frames (hardening issue, item 7: a lone surrogate used to raise a raw UnicodeEncodeError
holding the whole value)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secrets_core.testing.leaks import all_text_of
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import InvalidSecretValueError

CANARY = "canary-7f3a9c"


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> SecureSecretsManager:
    data = tmp_path_factory.mktemp("values")
    return SecureSecretsManager(data_dir=data, audit_sinks=[])


def _store_and_check(manager: SecureSecretsManager, value: str | bytes) -> None:
    try:
        manager.store_secret("prop/value", value)
    except InvalidSecretValueError as exc:
        assert isinstance(value, str), "bytes are always storable"
        shown = all_text_of(exc)
        assert CANARY not in shown
        assert value not in shown
        return
    assert manager.retrieve_secret("prop/value") == value


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_any_str_round_trips_or_is_refused_without_the_value(manager, text: str) -> None:
    _store_and_check(manager, CANARY + text + CANARY)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=64))
def test_any_bytes_round_trip(manager, raw: bytes) -> None:
    _store_and_check(manager, CANARY.encode() + raw)


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "a\udc80b"])
def test_a_lone_surrogate_is_refused_by_type(manager, surrogate: str) -> None:
    value = CANARY + surrogate
    with pytest.raises(InvalidSecretValueError) as info:
        manager.store_secret("prop/surrogate", value)
    assert "UTF-8" in str(info.value)
    assert CANARY not in all_text_of(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
