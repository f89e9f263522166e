"""Issue 20 item 7: the Python API refuses an argument of the wrong type as the caller's
mistake (``InvalidArgumentError``, a ``TypeError``), never as "not found" or "not installed",
for every public method of the manager and of a scoped handle."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secrets_core.errors import InvalidArgumentError, SecretNotFoundError
from secrets_core.manager import SecretsManager
from secrets_core.scoped import ScopedSecrets
from secure_secrets import SecureSecretsManager

CANARY = "CANARY-args-4e1c-must-never-be-shown"
CLASSES = (SecretsManager, ScopedSecrets)
#: Checked by their own validators, with their own typed (and audited) errors.
SELF_CHECKED = {"self", "name", "names", "value", "new_passphrase", "token", "prefix"}


def _public_methods() -> Iterator[tuple[type, str, Callable[..., Any]]]:
    for cls in CLASSES:
        for attribute, member in vars(cls).items():
            if inspect.isfunction(member) and not attribute.startswith("_"):
                yield cls, attribute, member
    yield SecretsManager, "__init__", vars(SecretsManager)["__init__"]


def _checked_parameters() -> Iterator[Any]:
    for cls, method, member in _public_methods():
        for parameter in inspect.signature(member).parameters.values():
            if parameter.name not in SELF_CHECKED and parameter.kind not in (
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            ):
                yield pytest.param(
                    cls, method, parameter.name, id=f"{cls.__name__}.{method}.{parameter.name}"
                )


def _required(member: Callable[..., Any]) -> dict[str, Any]:
    """Valid values for the required parameters (a name, a value, a key source, ...)."""
    valid = {"name": "db", "value": CANARY, "new_passphrase": CANARY, "token": b"x",
             "key_source": "keyfile", "prefix": ""}  # fmt: skip
    return {
        p.name: valid[p.name]
        for p in inspect.signature(member).parameters.values()
        if p.name != "self" and p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    }


@pytest.fixture
def manager() -> Iterator[SecretsManager]:
    with SecretsManager() as made:
        made.store_secret("db", "v1")
        yield made


def _target(cls: type, method: str, manager: SecretsManager) -> Any:
    if method == "__init__":
        return SecretsManager
    owner = manager if cls is SecretsManager else manager.scoped("db")
    return getattr(owner, method)


def test_every_public_method_is_checked() -> None:
    """A method added later is checked too (the class decorator wraps it), not forgotten."""
    methods = list(_public_methods())
    assert len(methods) > 25
    for cls, method, member in methods:
        assert hasattr(member, "__wrapped__"), f"{cls.__name__}.{method} is not checked"


@pytest.mark.parametrize(("cls", "method", "parameter"), list(_checked_parameters()))
def test_a_wrong_type_is_refused_before_anything_runs(
    cls: type, method: str, parameter: str, manager: SecretsManager, tmp_path: Path
) -> None:
    target = _target(cls, method, manager)
    member = vars(cls)[method]
    arguments = {**_required(member), parameter: object()}
    log = manager.assembly.audit_log_path()
    before = log.read_bytes()
    with pytest.raises(InvalidArgumentError, match=rf"{parameter} must be .*, not object") as info:
        target(**arguments)
    assert isinstance(info.value, TypeError)
    assert log.read_bytes() == before  # refused before any operation started
    for frame, _line in traceback.walk_tb(info.value.__traceback__):
        if "secrets_core" in frame.f_code.co_filename:
            assert CANARY not in repr(frame.f_locals)  # no value in our frames' locals


@pytest.mark.parametrize("version", ["1", 1.5, True, b"1", [1]])
@pytest.mark.parametrize("scoped", [False, True])
def test_retrieve_with_a_version_of_the_wrong_type(
    manager: SecretsManager, version: object, scoped: bool
) -> None:
    owner: Any = manager.scoped("db") if scoped else manager
    with pytest.raises(InvalidArgumentError, match="version must be int or None, not") as info:
        owner.retrieve_secret("db", version=version)
    assert not isinstance(info.value, SecretNotFoundError)
    assert owner.retrieve_secret("db", version=1) == "v1"  # the right type still works


@pytest.mark.parametrize("call", ["positional", "keyword", "constructor"])
def test_backend_type_of_the_wrong_type(manager: SecretsManager, call: str) -> None:
    with pytest.raises(InvalidArgumentError, match="backend.* must be str, Enum or None, not int"):
        if call == "positional":
            manager.retrieve_secret("db", 3)  # type: ignore[arg-type]
        elif call == "keyword":
            manager.retrieve_secret("db", backend_type=3)  # type: ignore[arg-type]
        else:
            SecretsManager(default_backend=3)  # type: ignore[arg-type]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    version=st.one_of(st.text(), st.floats(), st.booleans(), st.binary(), st.lists(st.integers()))
)
def test_no_version_of_another_type_reads_as_not_found(
    manager: SecretsManager, version: object
) -> None:
    with pytest.raises(InvalidArgumentError):
        manager.retrieve_secret("db", version=version)  # type: ignore[arg-type]


def test_repr_shows_the_public_name_and_no_path(tmp_path: Path) -> None:
    manager = SecureSecretsManager(data_dir=tmp_path / "private-data")
    shown = repr(manager)
    assert shown == "SecureSecretsManager(default_backend='file')"
    assert str(tmp_path) not in shown

    class Mine(SecureSecretsManager):
        pass

    assert repr(Mine(data_dir=tmp_path)).startswith("Mine(")


def test_positional_and_keyword_only_parameters_are_told_apart(manager: SecretsManager) -> None:
    """``scoped(*names, read_only=...)``: the names are not checked as ``read_only``."""
    handle = manager.scoped("db", "app/", read_only=True)
    assert handle.retrieve_secret("db") == "v1"
    with pytest.raises(InvalidArgumentError, match="read_only must be bool, not str"):
        manager.scoped("db", read_only="yes")  # type: ignore[arg-type]
