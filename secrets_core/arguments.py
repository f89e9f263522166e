"""Type checks of the public API's arguments, read from each method's annotations.

``@checked_arguments`` on a class wraps every public method (and ``checked`` one function,
e.g. ``__init__``) so that an argument of the wrong type raises
:class:`~secrets_core.errors.InvalidArgumentError` (a ``TypeError``) naming the method and
the parameter, before anything runs: ``retrieve_secret("db", version="1")`` is a caller's
mistake, not a secret that was not found. The checks are compiled from the annotations on
first call; a call that passes only the unchecked leading arguments (the usual
``retrieve_secret(name)``) costs one length test. A name that an annotation uses but its
module does not define is read with ``getattr`` on the module, so a module may import it
lazily through a module-level ``__getattr__`` (as :mod:`secrets_core.manager` does).

Names, values and prefixes are left to their own validators
(:func:`~secrets_core.names.validate_name`, :class:`~secrets_core.secret.SecretValue`),
whose errors are typed and audited. Containers are checked as containers (a ``Mapping``, a
``list``), not item by item.
"""

from __future__ import annotations

import collections.abc
import functools
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from secrets_core.errors import InvalidArgumentError

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

#: Parameters whose own validator raises a typed (and audited) error.
SELF_CHECKED = frozenset({"self", "name", "names", "value", "new_passphrase", "token", "prefix"})

Check = tuple[int, str, Callable[[object], bool], str]


def _accepts(hint: Any) -> tuple[Callable[[object], bool], list[str]]:
    """A predicate for one annotation and the names of the types it takes."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return (lambda value: True), ["anything"]
    if origin is typing.Union or origin is types.UnionType:
        parts = [_accepts(arg) for arg in typing.get_args(hint)]
        return (lambda value: any(ok(value) for ok, _ in parts)), [n for _, ns in parts for n in ns]
    if hint is None or hint is type(None):
        return (lambda value: value is None), ["None"]
    if origin is collections.abc.Callable or hint is collections.abc.Callable:
        return callable, ["a callable"]
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        return (lambda value: value in allowed), [repr(a) for a in allowed]
    kind = origin if isinstance(origin, type) else hint
    if kind is int:  # True is an int to Python, never a version number or a count
        return (lambda value: isinstance(value, int) and not isinstance(value, bool)), ["int"]
    return (lambda value: isinstance(value, kind)), [kind.__name__]


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    """The names of ``function``'s parameters, in order (``*args``/``**kwargs`` left out;
    read from the code object: :mod:`inspect` costs every CLI start milliseconds)."""
    code = function.__code__
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


class _ModuleNames(dict[str, Any]):
    """The names an annotation may use that its module does not define at import: looked up
    as the module's attributes, so that a module-level ``__getattr__`` (PEP 562) can import
    a type only an annotation needs when a check is first compiled, not at every start."""

    def __init__(self, module: types.ModuleType) -> None:
        super().__init__()
        self._module = module

    def __missing__(self, name: str) -> Any:
        try:
            return getattr(self._module, name)
        except AttributeError:  # a builtin (int, str): eval looks there next
            raise KeyError(name) from None


def _compile(function: Callable[..., Any]) -> list[Check]:
    """``(position, parameter, predicate, expected)`` for each checked parameter."""
    module = sys.modules[function.__module__]
    parameters = _parameters(function)
    annotations = {
        name: function.__annotations__[name]
        for name in parameters
        if name not in SELF_CHECKED and name in function.__annotations__
    }
    holder = types.SimpleNamespace(__annotations__=annotations)
    hints = typing.get_type_hints(holder, globalns=vars(module), localns=_ModuleNames(module))
    checks = []
    positional = function.__code__.co_argcount  # keyword-only ones follow, after any *args
    for position, parameter in enumerate(parameters):
        if position >= positional:
            position = sys.maxsize  # never matched against a positional argument
        if parameter in hints:
            predicate, names = _accepts(hints[parameter])
            expected = ", ".join(dict.fromkeys(names[:-1])) + " or " * (len(names) > 1)
            checks.append((position, parameter, predicate, expected + names[-1]))
    return checks


def checked(function: F) -> F:
    """``function`` with its arguments' types checked against its annotations."""
    checks: list[Check] = []
    compiled = False
    where = "the constructor" if function.__name__ == "__init__" else f"{function.__name__}()"
    first = next(
        (i for i, name in enumerate(_parameters(function)) if name not in SELF_CHECKED),
        sys.maxsize,
    )
    first = min(first, function.__code__.co_argcount)  # arguments past it: checked by name

    def problem(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        nonlocal checks, compiled
        if not compiled:
            checks, compiled = _compile(function), True
        for position, parameter, predicate, expected in checks:
            if position < len(args):
                value = args[position]
            elif parameter in kwargs:
                value = kwargs[parameter]
            else:
                continue
            if not predicate(value):
                return f"{where}: {parameter} must be {expected}, not {type(value).__name__}"
        return None

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if kwargs or len(args) > first:
                message = problem(args, kwargs)
                if message is not None:
                    raise InvalidArgumentError(message)
            return function(*args, **kwargs)
        except BaseException:
            del args, kwargs  # the arguments (a value among them) leave the traceback's locals
            raise

    return typing.cast(F, wrapper)


def checked_arguments(cls: C) -> C:
    """Wrap every public method of ``cls`` with :func:`checked`."""
    for attribute, member in list(vars(cls).items()):
        if not attribute.startswith("_") and isinstance(member, types.FunctionType):
            setattr(cls, attribute, checked(member))
    return cls
