"""Secret-name validation, the error hierarchy, the facade's exceptions and SecretValue."""

from __future__ import annotations

import copy
import pickle

import pytest

import secure_secrets.exceptions as facade_exceptions
from secrets_core import errors
from secrets_core.errors import (
    EncryptionError,
    IntegrityError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretAccessError,
    SecretNotFoundError,
    SecretsError,
)
from secrets_core.names import MAX_NAME_LENGTH, validate_name, validate_prefix
from secrets_core.secret import SecretValue

CANARY = "CANARY-3f9c1e-must-never-be-shown"

GOOD_NAMES = [
    "a",
    "A",
    "_",
    "0",
    "bluefin_api_key",
    "billing/stripe_key",
    "a.b-c_d",
    "team/app/db.password",
    "a" * MAX_NAME_LENGTH,
    "x/" * 63 + "yy",  # 128 characters of segments
]

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("../x", id="parent-traversal"),
    pytest.param("a/../b", id="inner-traversal"),
    pytest.param("./a", id="dot-segment"),
    pytest.param("a/.", id="trailing-dot-segment"),
    pytest.param("..", id="dotdot"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("a//b", id="empty-segment"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("C:x", id="drive-colon"),
    pytest.param("a b", id="space"),
    pytest.param("a\n", id="trailing-newline"),
    pytest.param("-a", id="leading-dash"),
    pytest.param("pässwort", id="non-ascii"),
    pytest.param("a" * (MAX_NAME_LENGTH + 1), id="too-long"),
    pytest.param("a" * 10_000, id="far-too-long"),
]

NON_STR_NAMES = [None, b"abc", 1, 1.5, ["a"], ("a",), object()]


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_validate_name_accepts_allowed_names(name: str) -> None:
    assert validate_name(name) == name


def test_max_name_length_is_128() -> None:
    assert MAX_NAME_LENGTH == 128
    assert validate_name("n" * 128) == "n" * 128
    with pytest.raises(InvalidSecretNameError):
        validate_name("n" * 129)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_validate_name_rejects_bad_names(name: str) -> None:
    with pytest.raises(InvalidSecretNameError):
        validate_name(name)


@pytest.mark.parametrize("name", NON_STR_NAMES, ids=lambda v: type(v).__name__)
def test_validate_name_rejects_non_str(name: object) -> None:
    with pytest.raises(InvalidSecretNameError, match="must be a str"):
        validate_name(name)


@pytest.mark.parametrize(
    "bad",
    [f"../{CANARY}", f"{CANARY}\x00", f"/{CANARY}", f"{CANARY} with spaces", CANARY * 10],
)
def test_rejected_name_is_never_echoed(bad: str) -> None:
    with pytest.raises(InvalidSecretNameError) as info:
        validate_name(bad)
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value)


def test_invalid_name_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_name("../x")


@pytest.mark.parametrize("prefix", ["", "billing", "billing/", "a/b/"])
def test_validate_prefix_accepts(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["../", "/", "a//", "..", None, 3])
def test_validate_prefix_rejects(prefix: object) -> None:
    with pytest.raises(InvalidSecretNameError):
        validate_prefix(prefix)


# --- the error hierarchy ---------------------------------------------------------------------


@pytest.mark.parametrize("name", errors.__all__)
def test_every_public_error_derives_from_secrets_error(name: str) -> None:
    cls = getattr(errors, name)
    assert isinstance(cls, type)
    assert issubclass(cls, SecretsError)
    assert issubclass(cls, Exception)


def test_hierarchy_relations_from_the_issue() -> None:
    assert issubclass(SecretNotFoundError, SecretAccessError)
    assert issubclass(SecretNotFoundError, KeyError)
    assert issubclass(IntegrityError, EncryptionError)
    assert issubclass(errors.KeyNotAvailableError, EncryptionError)
    assert issubclass(errors.BackendConfigurationError, SecretsError)
    assert issubclass(errors.PluginNotFoundError, errors.BackendConfigurationError)
    assert issubclass(errors.BackendUnavailableError, SecretsError)
    assert issubclass(errors.PluginLoadError, errors.PluginError)
    assert issubclass(errors.PluginConflictError, errors.PluginError)
    assert issubclass(errors.ConfigError, SecretsError)
    assert issubclass(InvalidSecretValueError, TypeError)


def test_secret_not_found_is_caught_as_key_error_with_a_plain_message() -> None:
    message = "secret 'db' not found in the file backend"
    with pytest.raises(KeyError) as info:
        raise SecretNotFoundError(message)
    # KeyError.__str__ would wrap the message in quotes; ours is the plain message.
    assert str(info.value) == message
    assert isinstance(info.value, SecretAccessError)
    assert str(SecretNotFoundError()) == ""


def test_facade_exceptions_are_the_core_classes() -> None:
    from secure_secrets.exceptions import (
        BackendConfigurationError,
        EncryptionError,
        SecretAccessError,
    )

    assert SecretAccessError is errors.SecretAccessError
    assert EncryptionError is errors.EncryptionError
    assert BackendConfigurationError is errors.BackendConfigurationError
    assert set(facade_exceptions.__all__) == set(errors.__all__)
    for name in errors.__all__:
        assert getattr(facade_exceptions, name) is getattr(errors, name)


# --- SecretValue -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [CANARY, CANARY.encode()], ids=["str", "bytes"])
def test_secret_value_repr_and_str_are_masked(raw: str | bytes) -> None:
    secret = SecretValue(raw)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert CANARY not in shown
        assert "*" in shown
    assert secret.reveal() == raw
    assert type(secret.reveal()) is type(raw)


def test_secret_value_records_whether_it_is_text() -> None:
    assert SecretValue("x").is_text
    assert not SecretValue(b"x").is_text
    assert SecretValue(bytearray(b"ab")).reveal() == b"ab"
    assert SecretValue(memoryview(b"ab")).reveal() == b"ab"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_secret_value_refuses_pickling(protocol: int) -> None:
    with pytest.raises(TypeError) as info:
        pickle.dumps(SecretValue(CANARY), protocol=protocol)
    assert CANARY not in str(info.value)


def test_secret_value_refuses_copying_through_reduce() -> None:
    # copy uses __reduce_ex__, which must not hand the value to another object silently.
    with pytest.raises(TypeError):
        copy.copy(SecretValue(CANARY))


@pytest.mark.parametrize("bad", [None, 1, 1.5, [CANARY], {"k": CANARY}, object()])
def test_secret_value_rejects_non_str_bytes(bad: object) -> None:
    with pytest.raises(InvalidSecretValueError) as info:
        SecretValue(bad)  # type: ignore[arg-type]
    assert CANARY not in str(info.value)


def test_secret_value_equality_and_unhashable() -> None:
    assert SecretValue("a") == SecretValue("a")
    assert SecretValue("a") != SecretValue("b")
    assert SecretValue("a") != SecretValue(b"a")  # the type is part of the value
    with pytest.raises(TypeError):
        hash(SecretValue("a"))


def test_a_str_subclass_cannot_pass_as_a_remembered_name() -> None:
    """Valid names are remembered after their first check; a str subclass that claims to
    equal (and hash like) one of them must still be checked for what it is."""

    class Impostor(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("db/password")

    assert validate_name("db/password") == "db/password"  # now remembered
    with pytest.raises(InvalidSecretNameError):
        validate_name(Impostor("../../etc/passwd"))
