"""Named tuples that cost what a plain class costs to define.

``typing.NamedTuple`` builds each class through :func:`collections.namedtuple` (which compiles
a ``__new__`` from source text) and type-checks every annotation (compiling each string one):
0.2 to 0.5 ms a class, and about twenty of them (the plugin descriptors, the settings, the
audit event) are defined at every start of the CLI. A :class:`Record` subclass is defined like
a ``typing.NamedTuple`` one and behaves like it: a tuple subclass without a ``__dict__``,
fields by name and by index, construction by position or keyword with defaults, ``_fields``,
``_field_defaults``, ``__match_args__``, ``_make``, ``_replace``, ``_asdict``, the same
``repr``, equality, hashing, copying and pickling. Type checkers see ``typing.NamedTuple``
itself. Annotations are never evaluated (define records under
``from __future__ import annotations``); ``__annotations__`` keeps them as written.
``tests/test_records.py`` checks the behaviour against ``typing.NamedTuple``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Record"]

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    try:
        from _collections import _tuplegetter
    except ImportError:  # another Python implementation: what collections.namedtuple does
        from operator import itemgetter

        def _tuplegetter(index: int, doc: str) -> property:
            return property(itemgetter(index), doc=doc)

    class _RecordType(type):
        """Turns the annotated class attributes of a direct ``Record`` subclass into fields."""

        def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
            if not any(base.__dict__.get("_is_record_base") for base in bases):
                return super().__new__(mcls, name, bases, namespace)  # Record, or a subclass
            if len(bases) != 1:
                raise TypeError(f"{name}: a record can only inherit from Record")
            fields = tuple(_annotations(namespace))
            defaults = {field: namespace[field] for field in fields if field in namespace}
            for index, field in enumerate(fields):
                if field.startswith("_"):
                    raise ValueError(f"{name}: field names cannot start with '_': {field!r}")
                if field not in defaults and any(f in defaults for f in fields[:index]):
                    raise TypeError(
                        f"{name}: non-default field {field!r} cannot follow default fields"
                    )
                namespace[field] = _tuplegetter(index, f"Alias for field number {index}")
            namespace.update(
                __slots__=(), _fields=fields, _field_defaults=defaults, __match_args__=fields
            )
            return super().__new__(mcls, name, (Record,), namespace)

    def _annotations(namespace: dict[str, Any]) -> dict[str, Any]:
        if "__annotations__" not in namespace and "__annotate__" in namespace:
            raise TypeError(  # Python 3.14+ evaluates annotations lazily, unless told not to
                f"{namespace['__qualname__']}: define records under "
                "'from __future__ import annotations'"
            )
        return dict(namespace.get("__annotations__", {}))

    class Record(tuple, metaclass=_RecordType):  # type: ignore[no-redef]
        __slots__ = ()
        _is_record_base = True
        _fields: tuple[str, ...] = ()
        _field_defaults: dict[str, Any] = {}

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            fields = cls._fields
            if len(args) == len(fields) and not kwargs:
                return tuple.__new__(cls, args)
            if len(args) > len(fields):
                raise TypeError(
                    f"{cls.__name__}() takes {len(fields)} positional arguments but "
                    f"{len(args)} were given"
                )
            values = list(args)
            for field in fields[len(args) :]:
                if field in kwargs:
                    values.append(kwargs.pop(field))
                elif field in cls._field_defaults:
                    values.append(cls._field_defaults[field])
                else:
                    raise TypeError(f"{cls.__name__}() missing required argument: {field!r}")
            for field in kwargs:
                said = "multiple values for" if field in fields else "an unexpected keyword"
                raise TypeError(f"{cls.__name__}() got {said} argument {field!r}")
            return tuple.__new__(cls, values)

        @classmethod
        def _make(cls, iterable: Any) -> Any:
            made = tuple.__new__(cls, iterable)
            if len(made) != len(cls._fields):
                raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(made)}")
            return made

        def _replace(self, **changes: Any) -> Any:
            made = self._make(map(changes.pop, self._fields, self))
            if changes:
                raise ValueError(f"Got unexpected field names: {list(changes)!r}")
            return made

        def _asdict(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

        def __repr__(self) -> str:
            shown = ", ".join(
                f"{field}={value!r}" for field, value in zip(self._fields, self, strict=True)
            )
            return f"{type(self).__name__}({shown})"

        def __getnewargs__(self) -> tuple[Any, ...]:
            return tuple(self)
