"""What the registry checks before it accepts a plugin's descriptors (the factory wrapper that
imports ``"module:attr"`` factories and checks their results is in ``_factory``).

Nothing a plugin hands the core is trusted to have the right shape: a descriptor with
``name=None``, a capability the core does not know or a factory that returns ``None`` is a
:class:`~secrets_core.errors.PluginLoadError` (at registration) or a
:class:`~secrets_core.errors.PluginContractError` (when the factory runs) that names the
plugin and the field, never a ``TypeError`` from deep inside the core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from secrets_core.errors import PluginLoadError
from secrets_core.plugin._api import Capability, CipherSpec, CommandSpec, ConfigOption
from secrets_core.plugin._factory import Factory, bind, describe, product, shown

#: Implementation names: what a config file says (``default_backend = "file"``).
NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62})")
NAME_RULE = "1 to 63 characters: lower-case letters, digits, '-' and '_', not starting with '-'"
#: ``"package.module:attr.path"``, imported on first use (as fsspec's known_implementations).
FACTORY_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
OPTION_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")


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
        raise PluginLoadError(
            f"{where}: field 'name' is {shown(repr(name))}; a name is {NAME_RULE}"
        )
    where = f"{where} '{name}'"
    if isinstance(spec, CommandSpec):
        return _command(where, spec)
    factory = spec.factory
    if isinstance(factory, str):
        if not FACTORY_RE.fullmatch(factory):
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
            and not (isinstance(value, str) and FACTORY_RE.fullmatch(value))
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
    if not isinstance(spec.command, str) or not FACTORY_RE.fullmatch(spec.command):
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
