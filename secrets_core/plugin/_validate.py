"""What the registry checks before it accepts a plugin's descriptors (the factory wrapper that
imports ``"module:attr"`` factories and checks their results is in ``_factory``).

Nothing a plugin hands the core is trusted to have the right shape: a descriptor with
``name=None``, a capability the core does not know or a factory that returns ``None`` is a
:class:`~secrets_core.errors.PluginLoadError` (at registration) or a
:class:`~secrets_core.errors.PluginContractError` (when the factory runs) that names the
plugin and the field, never a ``TypeError`` from deep inside the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secrets_core.errors import PluginLoadError
from secrets_core.plugin._api import Capability, CipherSpec, CommandSpec, ConfigOption
from secrets_core.plugin._factory import Factory, bind, describe, product, shown

# The three shapes below are checked with str methods, not regular expressions: compiling
# them cost every CLI start about a millisecond, and a `get` checks the descriptors of each
# plugin it loads. tests/test_plugin_validation_shapes.py pins each to its regex:
#   a name          [a-z0-9][a-z0-9_-]{0,62}
#   a "module:attr" [A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*
#   an option name  [a-z][a-z0-9_]{0,62}
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")
_NAME_CHARS = _LOWER | _DIGITS | {"_", "-"}
_OPTION_CHARS = _LOWER | _DIGITS | {"_"}
_NAME_START = _LOWER | _DIGITS
_IDENTIFIER_START = _LOWER | {c.upper() for c in _LOWER} | {"_"}
NAME_RULE = "1 to 63 characters: lower-case letters, digits, '-' and '_', not starting with '-'"


def is_name(text: str) -> bool:
    """An implementation name, as a config file says it (``default_backend = "file"``):
    ``[a-z0-9][a-z0-9_-]{0,62}``."""
    return 0 < len(text) <= 63 and text[0] in _NAME_START and set(text) <= _NAME_CHARS


def is_option_name(text: str) -> bool:
    """An option name: ``[a-z][a-z0-9_]{0,62}``."""
    return 0 < len(text) <= 63 and text[0] in _LOWER and set(text) <= _OPTION_CHARS


def is_target(text: str) -> bool:
    r"""A ``"package.module:attribute"`` path: dotted ``[A-Za-z_]\w*`` on both sides of one
    colon (``\w`` as in ``re``: a Unicode letter, digit or ``_``)."""
    module, colon, attribute = text.partition(":")
    return bool(colon) and all(
        _dotted_part(part) for part in (*module.split("."), *attribute.split("."))
    )


def _dotted_part(part: str) -> bool:
    rest = part[1:].replace("_", "")
    return part[:1] in _IDENTIFIER_START and (not rest or rest.isalnum())


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
    if not isinstance(name, str) or not is_name(name):
        raise PluginLoadError(
            f"{where}: field 'name' is {shown(repr(name))}; a name is {NAME_RULE}"
        )
    where = f"{where} '{name}'"
    if isinstance(spec, CommandSpec):
        return _command(where, spec)
    factory = spec.factory
    if isinstance(factory, str):
        if not is_target(factory):
            raise PluginLoadError(
                f"{where}: field 'factory' is {shown(repr(factory))}; a string factory is "
                "'package.module:attribute'"
            )
    elif not callable(factory):
        raise PluginLoadError(
            f"{where}: field 'factory' is {type(factory).__name__}; give a callable or a "
            "'package.module:attribute' string"
        )
    for field in ("validate", "dynamic", "paths", "describe"):
        value = getattr(spec, field, None)
        if (
            value is not None
            and not callable(value)
            and not (isinstance(value, str) and is_target(value))
        ):
            raise PluginLoadError(
                f"{where}: field '{field}' must be None, a callable or a 'package.module:attribute'"
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


def _command(where: str, spec: CommandSpec) -> CommandSpec:
    """A verb: ``command`` is a ``"module:attr"`` string (imported only when the verb runs)."""
    if not isinstance(spec.command, str) or not is_target(spec.command):
        raise PluginLoadError(
            f"{where}: field 'command' is {shown(repr(spec.command))}; a command is "
            "'package.module:attribute'"
        )
    for field in ("help", "distribution"):
        if not isinstance(getattr(spec, field), str):
            raise PluginLoadError(f"{where}: field '{field}' must be a str")
    return spec


def _options(where: str, options: object) -> None:
    if not isinstance(options, Mapping):
        raise PluginLoadError(f"{where}: field 'options' must be a mapping of ConfigOption")
    for key, option in options.items():
        if not isinstance(key, str) or not is_option_name(key):
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
                f"{where}: unknown capability {shown(repr(capability))}; known: "
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


__all__ = ["Factory", "bind", "describe", "descriptors", "duplicates", "product", "shown"]
