"""The factory wrapper: imports a ``"module:attr"`` factory on first use (fsspec's
``known_implementations`` model), runs the descriptor's offline ``validate(options)``, and
checks that what the factory returns implements the family's interface. Also how plugin text
is made safe to show. Imports nothing from the rest of the plugin package but
``_discovery``'s import helper."""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable, Mapping
from collections.abc import Callable as CallableABC
from typing import Any

from secrets_core.errors import PluginContractError, SecretsError
from secrets_core.plugin._discovery import import_module

MAX_SHOWN = 200
#: C0 and C1 controls, DEL, zero-width characters, line separators and bidirectional
#: controls, each replaced by "?" (a translation table: a regex cost every CLI start ~0.5 ms).
_CONTROL = dict.fromkeys(
    [*range(0x20), *range(0x7F, 0xA0), *range(0x200B, 0x2010), *range(0x2028, 0x202F)]
    + [*range(0x2066, 0x206A)],
    "?",
)


def shown(text: object) -> str:
    """Plugin-supplied text as it may be shown to a user: control characters (terminal
    escapes, newlines that fake log lines) replaced, and capped in length."""
    try:
        value = text if isinstance(text, str) else repr(text)
    except BaseException as exc:  # noqa: BLE001  # a hostile __repr__
        if isinstance(exc, KeyboardInterrupt):
            raise
        value = f"<{type(text).__name__}>"
    value = value.translate(_CONTROL)
    return value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 3] + "..."


def describe(exc: BaseException) -> str:
    """``Type: message`` of a plugin's exception, made safe to show (see :func:`shown`)."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001  # a hostile __str__
        message = ""
    return shown(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def product(spec_type: type) -> type | None:
    """What a descriptor type's factory returns, read from its ``factory`` annotation
    (``Callable[..., StorageBackend] | str`` -> ``StorageBackend``); None if not a class."""
    if spec_type not in _PRODUCTS:
        _PRODUCTS[spec_type] = _annotated_product(spec_type)
    return _PRODUCTS[spec_type]


_PRODUCTS: dict[type, type | None] = {}


def _annotated_product(spec_type: type) -> type | None:
    # Only the ``factory`` annotation is evaluated (descriptors are defined under
    # ``from __future__ import annotations``): typing.get_type_hints(spec_type) would evaluate
    # every field of every class in the MRO, milliseconds of each CLI start. The collections.abc
    # generics of that one annotation need no typing machinery.
    hint = getattr(spec_type, "__annotations__", {}).get("factory")
    if isinstance(hint, str):
        named = _callable_result(hint, vars(sys.modules[spec_type.__module__]))
        if named is not None:
            return named
        hint = typing.get_type_hints(spec_type).get("factory")  # any other spelling
    for candidate in (hint, *typing.get_args(hint)):
        args = typing.get_args(candidate)
        if typing.get_origin(candidate) is CallableABC and isinstance(args[-1], type):
            return args[-1]
    return None


def _callable_result(annotation: str, namespace: dict[str, Any]) -> type | None:
    """The class an annotation spelt ``Callable[[...], Name] | str`` names as the result,
    looked up in ``namespace`` without evaluating anything; None for any other spelling."""
    callable_part = annotation.split(" | ")[0].strip()
    if not (callable_part.startswith("Callable[") and callable_part.endswith("]")):
        return None
    found = namespace.get(callable_part[len("Callable[") : -1].rsplit(",", 1)[-1].strip())
    return found if isinstance(found, type) else None


class Factory:
    """A descriptor's factory as the core calls it: a ``"module:attr"`` string is imported on
    the first call; the result must be an instance of the family's interface, else a
    :class:`PluginContractError` names the plugin that broke the contract."""

    __slots__ = ("_target", "_product", "_owner", "_check")

    def __init__(
        self,
        target: Callable[..., Any] | str,
        expected: type | None,
        owner: str,
        check: Callable[..., Any] | str | None = None,
    ):
        self._target = target
        self._product = expected
        self._owner = owner
        self._check = check

    def __repr__(self) -> str:
        return f"<factory of {self._owner}>"

    def load(self) -> Callable[..., Any]:
        self._target = _imported(self._target, self._owner)
        return self._target

    def validate(self, options: Mapping[str, Any]) -> None:
        """Run the descriptor's offline ``validate(options)``, if it has one."""
        if self._check is None:
            return
        self._check = check = _imported(self._check, self._owner)
        try:
            check(options)
        except SecretsError:
            raise
        except Exception as exc:
            raise PluginContractError(
                f"{self._owner}: validate() raised {describe(exc)}; it must raise ConfigError"
            ) from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._check is not None and args:
            self.validate(args[0])
        made = self.load()(*args, **kwargs)
        expected = self._product
        if expected is not None and not _implements(made, expected):
            raise PluginContractError(
                f"{self._owner}: factory returned {type(made).__name__}, not a "
                f"{expected.__name__}; report this to the plugin's authors, or block the "
                "plugin (plugins.block)"
            )
        return made


def _implements(made: object, protocol: type) -> bool:
    """Whether ``made`` has every method of ``protocol``, looked up as the core calls them
    (``getattr``, so a delegating ``__getattr__`` counts). Not ``isinstance``: since Python
    3.12 a runtime-checkable protocol looks attributes up statically, and the same plugin
    would pass on 3.11 and fail on 3.13."""
    methods = [
        name
        for name, member in vars(protocol).items()
        if not name.startswith("_") and callable(member)
    ]
    return all(callable(getattr(made, name, None)) for name in methods)


def _imported(target: Callable[..., Any] | str, owner: str) -> Callable[..., Any]:
    """``target`` itself, or the callable a ``"module:attr"`` string names."""
    if not isinstance(target, str):
        return target
    module, _, attrs = target.partition(":")
    try:
        loaded: Any = import_module(module)
        for attr in attrs.split("."):
            loaded = getattr(loaded, attr)
    except (ImportError, AttributeError) as exc:
        raise PluginContractError(
            f"{owner}: '{target}' cannot be imported ({describe(exc)}); "
            "reinstall the plugin's distribution"
        ) from None
    if not callable(loaded):
        raise PluginContractError(f"{owner}: '{target}' is not callable")
    return loaded  # type: ignore[no-any-return]


def load(target: Callable[..., Any] | str, owner: str) -> Callable[..., Any]:
    """``target`` itself, or the callable a ``"module:attr"`` string names (a descriptor's
    ``dynamic`` or ``paths``); a string that does not import raises
    :class:`PluginContractError` naming ``owner``."""
    return _imported(target, owner)


def bind(spec: Any, owner: str = "") -> Any:
    """``spec`` with its factory wrapped in :class:`Factory` (use before calling a factory
    that may be a ``"module:attr"`` string; the conformance kit does)."""
    if not hasattr(spec, "factory") or isinstance(spec.factory, Factory):
        return spec  # a CommandSpec: its command is imported by the CLI when the verb runs
    owner = owner or f"{type(spec).__name__} '{spec.name}'"
    check = getattr(spec, "validate", None)
    return spec._replace(factory=Factory(spec.factory, product(type(spec)), owner, check))
