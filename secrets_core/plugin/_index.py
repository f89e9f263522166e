"""The plugin index is the installed metadata itself: no cache file, nothing to trust.

A full discovery imports every installed plugin (and pluggy): tens of milliseconds of a
``secure-secrets get`` that needs one backend, one cipher, one key source and one audit sink.
So a distribution also says, in its metadata, what it provides: one entry point per
implementation in the group ``secrets_core.provides``, named ``FAMILY.NAME`` with the plugin's
module as value::

    [project.entry-points.secrets_core]
    s3 = "my_package.plugin"

    [project.entry-points."secrets_core.provides"]
    "backend.s3" = "my_package.plugin"

To find ``backend`` ``s3`` the registry reads the entry points (one scan of ``sys.path``, the
same scan the full discovery starts with), picks the one plugin that declares the name,
applies the ``[plugins]`` allow/block policy, imports that plugin alone, checks every
descriptor it registers, and uses the one asked for. Whenever that does not give exactly one
answer (nobody or two distributions declare the name, the plugin's entry-point name clashes,
the plugin fails or does not register what it declared, strict mode) the full discovery runs
and stays the authority. The core's own names (``jsonl``, ``keyfile``, ...) are answered by
the core's internal plugin first: they always win.

A declaration is as trusted as the rest of an installed distribution (which is code that runs
in this process anyway); there is no file in a cache directory that decides what is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secrets_core.plugin import _discovery

GROUP = "secrets_core"
PROVIDES_GROUP = "secrets_core.provides"


def declaration(family: str, name: str) -> str:
    """The entry-point name that declares ``name`` of ``family``: ``key-source.os-keyring``."""
    return f"{family.replace(' ', '-')}.{name}"


class Installed:
    """One scan of the installed plugins and their declarations."""

    def __init__(self, given: list[Any] | None = None) -> None:
        found = (
            _discovery.entry_points(GROUP, PROVIDES_GROUP)
            if given is None
            else [_ours(ep) for ep in given]
        )
        self.plugins = [ep for ep in found if ep.group == GROUP]
        self.declarations = [ep for ep in found if ep.group == PROVIDES_GROUP]

    def declares(self, distribution: str, family: str, name: str) -> bool:
        wanted = declaration(family, name)
        return any(ep.name == wanted and ep.dist.name == distribution for ep in self.declarations)

    def declares_plugin(self, plugin: _discovery.EntryPoint) -> bool:
        """Whether ``plugin``'s distribution declares anything it provides."""
        return any(
            ep.dist.name == plugin.dist.name and ep.value == plugin.value
            for ep in self.declarations
        )

    def provider(
        self, family: str, name: str, admitted: Callable[[_discovery.EntryPoint], bool]
    ) -> _discovery.EntryPoint | None:
        """The one ``admitted`` plugin entry point whose distribution declares ``name``, or
        None when that is not exactly one (the full discovery then decides)."""
        wanted = declaration(family, name)
        targets = {(ep.dist.name, ep.value) for ep in self.declarations if ep.name == wanted}
        plugins = [ep for ep in self.plugins if admitted(ep)]
        chosen = [ep for ep in plugins if (ep.dist.name, ep.value) in targets]
        if len(chosen) != 1:
            return None
        (plugin,) = chosen
        if sum(ep.name == plugin.name for ep in plugins) != 1:
            return None  # an entry-point name clash: the full discovery reports it
        return plugin


def _ours(ep: Any) -> _discovery.EntryPoint:
    """An :class:`importlib.metadata.EntryPoint` (tests, docs) as the registry's own type."""
    if isinstance(ep, _discovery.EntryPoint):
        return ep
    dist = getattr(ep, "dist", None)
    name = _discovery.normalise(dist.name) if dist is not None else "unknown"
    version = dist.version if dist is not None else "unknown"
    return _discovery.EntryPoint(
        ep.name, ep.value, ep.group, _discovery.Distribution(name, version)
    )
