"""Finding a group's entry points without importing :mod:`importlib.metadata`.

``importlib.metadata`` costs ~30 ms to import (it pulls in the ``email`` package to parse
``METADATA``) and ~9 ms to scan, more than a third of the CLI's cold start. Entry points are
declared in ``entry_points.txt`` inside each ``*.dist-info`` or ``*.egg-info`` directory on
``sys.path`` (the packaging specification's layout), and the directory's own name carries the
distribution's name and version, so one ``scandir`` per path entry finds them all. As in
``importlib.metadata``, the first distribution of a given (normalised) name on ``sys.path``
wins. ``tests/test_entrypoints.py`` checks the result against ``importlib.metadata``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from secrets_core.records import Record

#: The core's own plugins, loaded by module name like entry points (they live above the
#: plugin package: they implement key sources and audit sinks). One table, like pytest's
#: ``default_plugins``.
INTERNAL_PLUGINS: dict[str, str] = {"core": "secrets_core.builtin"}


def load_internal(name: str) -> Any:
    """Import one of :data:`INTERNAL_PLUGINS` by name."""
    return import_module(INTERNAL_PLUGINS[name])


def import_module(name: str) -> Any:
    """:func:`importlib.import_module` for an absolute name, without importing
    :mod:`importlib` (every CLI start would pay for it)."""
    __import__(name)
    return sys.modules[name]


class Distribution(Record):
    name: str
    """Normalised (lower case, ``-`` separated), e.g. ``secure-secrets-file``."""
    version: str


class EntryPoint(Record):
    """The subset of :class:`importlib.metadata.EntryPoint` the registry uses."""

    name: str
    value: str
    group: str
    dist: Distribution
    info_dir: str = ""
    """The ``*.dist-info`` / ``*.egg-info`` directory that declares it."""

    def load(self) -> Any:
        """Import ``module`` and return ``module:attr.path`` (extras are ignored)."""
        module, _, attrs = self.value.partition("[")[0].partition(":")
        target: Any = import_module(module.strip())
        for attr in attrs.strip().split("."):
            if attr:
                target = getattr(target, attr)
        return target


def normalise(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()


def entry_points(*groups: str) -> list[EntryPoint]:
    """Every entry point of the ``groups`` declared by a distribution on ``sys.path`` (one
    scan, whatever the number of groups)."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for directory in sys.path:
        for info_dir, dist in _distributions(directory or "."):
            if dist.name in seen:
                continue
            seen.add(dist.name)
            text = _read(os.path.join(info_dir, "entry_points.txt"))
            # Most distributions declare none of these groups: their file is not parsed.
            if text is not None and any(group in text for group in groups):
                found += [
                    EntryPoint(name, value, group, dist, info_dir)
                    for group in groups
                    for name, value in _section(text, group)
                ]
    return found


def version(distribution: str) -> str:
    """The version of an installed distribution, or ``"unknown"``."""
    wanted = normalise(distribution)
    for directory in sys.path:
        for _info_dir, dist in _distributions(directory or "."):
            if dist.name == wanted:
                return dist.version
    return "unknown"


_INFO_SUFFIXES = (".dist-info", ".egg-info")


def _distributions(directory: str) -> list[tuple[str, Distribution]]:
    try:
        entries = os.listdir(directory)
    except OSError:  # not a directory (a zip file, a missing path)
        return []
    found = []
    for entry in sorted(e for e in entries if e.endswith(_INFO_SUFFIXES)):
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].partition("-")
        else:
            name, _, rest = entry[: -len(".egg-info")].partition("-")
            version = rest.split("-")[0] or _pkg_info_version(os.path.join(directory, entry))
        found.append((os.path.join(directory, entry), Distribution(normalise(name), version)))
    return found


def _pkg_info_version(info_dir: str) -> str:
    """The Version: header of an egg-info without a version in its name (a development
    install)."""
    text = _read(os.path.join(info_dir, "PKG-INFO")) or ""
    for line in text.splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
        if not line:
            break
    return "unknown"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return None


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines of the ``[group]`` section of an INI-style entry_points.txt."""
    pairs = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == group and "=" in line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    return pairs


__all__ = [
    "INTERNAL_PLUGINS",
    "Distribution",
    "EntryPoint",
    "entry_points",
    "load_internal",
    "version",
]
