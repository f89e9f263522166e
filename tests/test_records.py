"""``secrets_core.records.Record`` behaves as ``typing.NamedTuple`` does (the plugin
descriptors are documented as named tuples), for a fraction of its definition cost."""

from __future__ import annotations

import copy
import pickle
from typing import Any, NamedTuple

import pytest

import secrets_core.plugin as plugin_api
from secrets_core.records import Record


class Typed(NamedTuple):
    """A record."""

    name: str
    size: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    def shout(self) -> str:
        return self.name.upper()


class Cheap(Record):
    """A record."""

    name: str
    size: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    def shout(self) -> str:
        return self.name.upper()


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("a", 1), {}),
    (("a", 1, ("x",), "n"), {}),
    (("a",), {"size": 2}),
    ((), {"name": "a", "size": 2, "note": "n"}),
    ((), {"size": 2, "name": "a"}),
]
BAD_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (("a",), {}),
    (("a", 1, (), None, "extra"), {}),
    (("a", 1), {"name": "b"}),
    (("a", 1), {"colour": "red"}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_fields_and_methods_match_namedtuple(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    typed, cheap = Typed(*args, **kwargs), Cheap(*args, **kwargs)
    assert tuple(cheap) == tuple(typed) and isinstance(cheap, tuple)
    assert repr(cheap) == repr(typed).replace("Typed(", "Cheap(")
    assert cheap._asdict() == typed._asdict()
    assert [cheap.name, cheap.size, cheap.tags, cheap.note] == list(typed)
    assert cheap.shout() == typed.shout() and Cheap.__doc__ == "A record."
    assert tuple(cheap._replace(size=9)) == tuple(typed._replace(size=9))
    assert tuple(Cheap._make(typed)) == tuple(typed)
    assert hash(cheap) == hash(tuple(typed)) and cheap == tuple(typed)
    for clone in (copy.copy(cheap), copy.deepcopy(cheap), pickle.loads(pickle.dumps(cheap))):
        assert type(clone) is Cheap and clone == cheap
    match cheap:
        case Cheap(name, size):
            assert (name, size) == (typed.name, typed.size)


def test_class_attributes_match_namedtuple() -> None:
    assert Cheap._fields == Typed._fields == Cheap.__match_args__
    assert Cheap._field_defaults == Typed._field_defaults
    assert Cheap.__annotations__.keys() == Typed.__annotations__.keys()


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_wrong_arguments_raise_type_error_as_namedtuple_does(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        Typed(*args, **kwargs)
    with pytest.raises(TypeError):
        Cheap(*args, **kwargs)


def test_records_are_immutable_and_have_no_instance_dict() -> None:
    cheap = Cheap("a", 1)
    for attempt in (lambda: setattr(cheap, "name", "b"), lambda: setattr(cheap, "other", 1)):
        with pytest.raises(AttributeError):
            attempt()
    assert not hasattr(cheap, "__dict__")
    with pytest.raises(ValueError, match="unexpected field names"):
        cheap._replace(colour="red")
    with pytest.raises(TypeError):
        Cheap._make(("a",))


def test_definition_errors_match_namedtuple() -> None:
    with pytest.raises(TypeError, match="cannot follow default"):

        class Late(Record):  # noqa: F841
            a: int = 0
            b: int

    with pytest.raises(ValueError, match="cannot start with '_'"):

        class Private(Record):  # noqa: F841
            _a: int


def test_a_subclass_keeps_the_fields() -> None:
    class Sub(Cheap):
        def whisper(self) -> str:
            return self.name.lower()

    sub = Sub("Ab", 1)
    assert (sub._fields, sub.size, sub.whisper(), sub._replace(size=2).size) == (
        Cheap._fields,
        1,
        "ab",
        2,
    )


@pytest.mark.parametrize("name", sorted(plugin_api.__all__))
def test_every_public_descriptor_is_a_record_with_keyword_construction(name: str) -> None:
    """The documented descriptor behaviour: keyword construction, ``_replace``, tuple."""
    kind = getattr(plugin_api, name)
    if not (isinstance(kind, type) and issubclass(kind, Record)):
        return
    required = [field for field in kind._fields if field not in kind._field_defaults]
    made = kind(**dict.fromkeys(required, "x"))
    assert isinstance(made, tuple) and made._replace() == made
    assert made._asdict() == {**kind._field_defaults, **dict.fromkeys(required, "x")}
