"""What the registry checks before it accepts a plugin's descriptors, and the factory wrapper
that imports ``"module:attr"`` factories on first use and checks what they return.

Nothing a plugin hands the core is trusted to have the right shape: a descriptor with
``name=None``, a capability the core does not know or a factory that returns ``None`` is a
:class:`~secrets_core.errors.PluginLoadError` (at registration) or a
:class:`~secrets_core.errors.PluginContractError` (when the factory runs) that names the
plugin and the field, never a ``TypeError`` from deep inside the core.
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Callable, Mapping
from collections.abc import Callable as CallableABC
from typing import Any

from secrets_core.errors import PluginContractError, PluginLoadError, SecretsError
from secrets_core.plugin._api import Capability, CipherSpec, ConfigOption

#: Implementation names: what a config file says (``default_backend = "file"``).
NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62})")
NAME_RULE = "1 to 63 characters: lower-case letters, digits, '-' and '_', not starting with '-'"
#: ``"package.module:attr.path"``, imported on first use (as fsspec's known_implementations).
FACTORY_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
OPTION_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def shown(text: object) -> str:
    """Plugin-supplied text as it may be shown to a user: control characters (terminal
    escapes, newlines that fake log lines) replaced, and capped in length."""
    try:
        value = text if isinstance(text, str) else repr(text)
    except BaseException as exc:  # noqa: BLE001  # a hostile __repr__
        if isinstance(exc, KeyboardInterrupt):
            raise
        value = f"<{type(text).__name__}>"
    value = _CONTROL.sub("?", value)
    return value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 3] + "..."


def describe(exc: BaseException) -> str:
    """``Type: message`` of a plugin's exception, made safe to show (see :func:`shown`)."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001  # a hostile __str__
        message = ""
    return shown(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def descriptors(hook: str, spec_type: type, result: object) -> list[Any]:
    """The descriptors one registration hook returned, checked field by field (capabilities
    given as strings are turned into :class:`Capability`)."""
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        raise PluginLoadError(
            f"{hook} returned {type(result).__name__}, expected a list of {spec_type.__name__}"
        )
    checked = []
    for position, spec in enumerate(result):
        if not isinstance(spec, spec_type):
            raise PluginLoadError(
                f"{hook} returned {type(spec).__name__} at position {position}, "
                f"expected {spec_type.__name__}"
            )
        checked.append(_descriptor(f"{hook}: {spec_type.__name__}", spec))
    return checked


def _descriptor(where: str, spec: Any) -> Any:
    name = spec.name
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise PluginLoadError(f"{where}: field 'name' is {shown(name)}; a name is {NAME_RULE}")
    where = f"{where} '{name}'"
    factory = spec.factory
    if isinstance(factory, str):
        if not FACTORY_RE.fullmatch(factory):
            raise PluginLoadError(
                f"{where}: field 'factory' is {shown(factory)}; a string factory is "
                "'package.module:attribute'"
            )
    elif not callable(factory):
        raise PluginLoadError(
            f"{where}: field 'factory' is {type(factory).__name__}; give a callable or a "
            "'package.module:attribute' string"
        )
    check = getattr(spec, "validate", None)
    if (
        check is not None
        and not callable(check)
        and not (isinstance(check, str) and FACTORY_RE.fullmatch(check))
    ):
        raise PluginLoadError(
            f"{where}: field 'validate' must be None, a callable or a 'package.module:attribute'"
        )
    if not isinstance(getattr(spec, "description", ""), str):
        raise PluginLoadError(f"{where}: field 'description' must be a str")
    options = getattr(spec, "options", None)
    if options is not None:
        _options(where, options)
    if hasattr(spec, "capabilities"):
        spec = spec._replace(capabilities=_capabilities(where, spec.capabilities))
    if isinstance(spec, CipherSpec) and (
        type(spec.key_size) is not int or not 16 <= spec.key_size <= 64
    ):
        raise PluginLoadError(f"{where}: field 'key_size' must be an int from 16 to 64 bytes")
    return spec


def _options(where: str, options: object) -> None:
    if not isinstance(options, Mapping):
        raise PluginLoadError(f"{where}: field 'options' must be a mapping of ConfigOption")
    for key, option in options.items():
        if not isinstance(key, str) or not OPTION_RE.fullmatch(key):
            raise PluginLoadError(
                f"{where}: option name {shown(key)} must be lower-case letters, digits and '_'"
            )
        if not isinstance(option, ConfigOption):
            raise PluginLoadError(
                f"{where}: option '{key}' is {type(option).__name__}, expected ConfigOption"
            )
        types = option.type if isinstance(option.type, tuple) else (option.type,)
        if not types or not all(isinstance(t, type) for t in types):
            raise PluginLoadError(f"{where}: option '{key}': field 'type' must be a type")


def _capabilities(where: str, capabilities: object) -> frozenset[Capability]:
    if not isinstance(capabilities, set | frozenset | list | tuple):
        raise PluginLoadError(f"{where}: field 'capabilities' must be a frozenset of Capability")
    known = {c.value for c in Capability}
    for capability in capabilities:
        if capability not in known:
            raise PluginLoadError(
                f"{where}: unknown capability {shown(capability)}; known: "
                + ", ".join(sorted(known))
            )
    return frozenset(Capability(c) for c in capabilities)


def duplicates(family: str, specs: list[Any]) -> None:
    """Refuse two descriptors of one family with the same name in one plugin."""
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise PluginLoadError(f"registers {family} '{spec.name}' twice")
        seen.add(spec.name)


def product(spec_type: type) -> type | None:
    """What a descriptor type's factory returns, read from its ``factory`` annotation
    (``Callable[..., StorageBackend] | str`` -> ``StorageBackend``); None if not a class."""
    if spec_type not in _PRODUCTS:
        _PRODUCTS[spec_type] = _annotated_product(spec_type)
    return _PRODUCTS[spec_type]


_PRODUCTS: dict[type, type | None] = {}


def _annotated_product(spec_type: type) -> type | None:
    hint = typing.get_type_hints(spec_type).get("factory")
    for candidate in (hint, *typing.get_args(hint)):
        args = typing.get_args(candidate)
        if typing.get_origin(candidate) is CallableABC and isinstance(args[-1], type):
            return args[-1]
    return None


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
        if expected is not None and not isinstance(made, expected):
            raise PluginContractError(
                f"{self._owner}: factory returned {type(made).__name__}, not a "
                f"{expected.__name__}; report this to the plugin's authors, or block the "
                "plugin (plugins.block)"
            )
        return made


def _imported(target: Callable[..., Any] | str, owner: str) -> Callable[..., Any]:
    """``target`` itself, or the callable a ``"module:attr"`` string names."""
    if not isinstance(target, str):
        return target
    module, _, attrs = target.partition(":")
    try:
        loaded: Any = importlib.import_module(module)
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


def bind(spec: Any, owner: str = "") -> Any:
    """``spec`` with its factory wrapped in :class:`Factory` (use before calling a factory
    that may be a ``"module:attr"`` string; the conformance kit does)."""
    if isinstance(spec.factory, Factory):
        return spec
    owner = owner or f"{type(spec).__name__} '{spec.name}'"
    check = getattr(spec, "validate", None)
    return spec._replace(factory=Factory(spec.factory, product(type(spec)), owner, check))
