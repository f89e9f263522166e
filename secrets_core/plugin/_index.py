"""The plugin index: which installed plugin provides each backend, cipher, KDF, key source
and audit sink.

A full discovery imports every installed plugin, and pluggy with it: tens of milliseconds
of a ``secure-secrets get`` that needs one backend, one cipher, one key source and one
audit sink. After each full discovery the registry writes what it found to
``plugin-index.json`` in the platformdirs user cache directory, and a later process looks
each name up there and imports only the plugin that provides it.

The index is a hint, checked on every use; whenever a check fails the registry runs the full
discovery, which stays the authority (and rewrites the index):

- It is keyed by a fingerprint of the installation: ``sys.path``, the modification time of
  each ``sys.path`` directory (installing, upgrading or removing a distribution changes it),
  the plugin policy, the Python and core versions. The file keeps the last few
  installations seen (a console script and ``python -c`` differ in ``sys.path[0]``), so they
  do not overwrite each other's entry.
- The entry point it names must still be declared, with the same value, by the dist-info
  directory it names, so an edited index can only point at an installed plugin.
- The plugin's registration function must still return the name asked for.
- Only names that were unambiguous in the full discovery are recorded; strict mode never
  uses the index (every plugin has to load).
"""

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from secrets_core.lazylog import get_logger
from secrets_core.plugin import _discovery as entrypoints
from secrets_core.plugin import _marker as markers

if TYPE_CHECKING:
    from secrets_core.plugin._registry import PluginPolicy

FORMAT = 2
KEPT = 8  # installations (fingerprints) remembered
GROUP = markers.PROJECT_NAME  # the entry-point group
CORE_PLUGIN = "core"  # the core's internal plugin (secrets_core.builtin)

log = get_logger("secrets_core.plugin")


class Provider(NamedTuple):
    """Where one implementation comes from."""

    plugin: str
    """The entry point's name, or ``"core"``."""
    value: str
    """The entry point's ``module:attr``."""
    distribution: str
    version: str
    info_dir: str
    """The dist-info directory that declares the entry point."""


class PluginIndex:
    """Reads (once) and writes the index file at ``path`` for one plugin policy."""

    def __init__(self, path: Path, policy: "PluginPolicy") -> None:
        self.path = path
        self.policy = policy
        self._document: dict[str, Any] | None = None
        self._found: dict[tuple[str, str], Any] = {}

    def fingerprint(self) -> list[Any]:
        from secrets_core import __version__

        stamps: list[Any] = []
        for entry in sys.path:
            try:
                stamps.append([entry, os.stat(entry or ".").st_mtime_ns])
            except OSError:
                stamps.append([entry, None])
        allow = sorted(self.policy.allow) if self.policy.allow is not None else None
        return [__version__, sys.version, allow, sorted(self.policy.block), stamps]

    def lookup(self, family: str, name: str, hook_name: str, spec_type: type) -> Any | None:
        """The descriptor for ``name``, loading only its plugin; None if the index cannot
        say (then the caller runs the full discovery)."""
        key = (family, name)
        if key not in self._found:
            record = self._providers().get(family, {}).get(name)
            if not (isinstance(record, list) and len(record) == len(Provider._fields)):
                return None
            if not all(isinstance(field, str) for field in record):
                return None
            spec = _load(Provider(*record), hook_name, spec_type, name)
            if spec is None:
                return None
            self._found[key] = spec
        return self._found[key]

    def save(self, provided: dict[str, dict[str, Provider]]) -> None:
        """Record a full discovery's findings, unless the file already holds them. A cache
        that cannot be written only costs speed, so failures are logged, not raised."""
        entry = {
            "fingerprint": self.fingerprint(),
            "provides": {
                family: {name: list(provider) for name, provider in sorted(table.items())}
                for family, table in sorted(provided.items())
            },
        }
        entries = self._entries()
        if entry in entries:
            return
        others = [e for e in entries if e.get("fingerprint") != entry["fingerprint"]]
        document = {"format": FORMAT, "installations": [entry, *others][:KEPT]}
        from secrets_core.errors import SecretsError
        from secrets_core.fsutil import atomic_write, ensure_private_dir

        try:
            ensure_private_dir(self.path.parent)
            atomic_write(self.path, json.dumps(document).encode())
        except (OSError, SecretsError) as exc:
            log.debug("plugin index %s not written: %s", self.path, exc)
        self._document = document

    def _providers(self) -> dict[str, dict[str, list[str]]]:
        fingerprint = self.fingerprint()
        for entry in self._entries():
            if entry.get("fingerprint") == fingerprint and isinstance(entry.get("provides"), dict):
                provides: dict[str, dict[str, list[str]]] = entry["provides"]
                return provides
        return {}

    def _entries(self) -> list[dict[str, Any]]:
        document = self._read()
        if document is None or document.get("format") != FORMAT:
            return []
        entries = document.get("installations")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def _read(self) -> dict[str, Any] | None:
        if self._document is None:
            try:
                loaded = json.loads(self.path.read_bytes())
            except (OSError, ValueError):
                return None
            self._document = loaded if isinstance(loaded, dict) else None
        return self._document


def _on_sys_path(info_dir: str) -> bool:
    """Whether ``info_dir`` is a distribution's metadata directory in a ``sys.path`` entry."""
    parent = os.path.dirname(os.path.abspath(info_dir))
    return any(os.path.abspath(entry or ".") == parent for entry in sys.path)


def _load(provider: Provider, hook_name: str, spec_type: type, name: str) -> Any | None:
    try:
        if provider.plugin == CORE_PLUGIN:
            module = entrypoints.load_internal(CORE_PLUGIN)
        elif _on_sys_path(provider.info_dir) and entrypoints.declares(
            provider.info_dir, GROUP, provider.plugin, provider.value
        ):
            dist = entrypoints.Distribution(provider.distribution, provider.version)
            module = entrypoints.EntryPoint(provider.plugin, provider.value, GROUP, dist).load()
        else:
            return None
        register = getattr(module, hook_name, None)
        if not markers.is_marked(register):
            return None
        for spec in register() or ():  # type: ignore[misc]  # checked marked above
            if isinstance(spec, spec_type) and getattr(spec, "name", None) == name:
                return spec
    except Exception as exc:  # the full discovery reports a broken plugin properly
        log.debug("plugin index entry for %s not usable: %s", name, type(exc).__name__)
    return None
