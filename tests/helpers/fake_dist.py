"""Install a fake plugin distribution: a module written into a temp ``site`` directory beside
a real ``*.dist-info`` (METADATA + entry_points.txt), found like an installed wheel."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_distribution(
    site: Path,
    dist: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    provides: dict[str, str] | None = None,
    version: str = "1.0",
) -> Path:
    """``modules``: module name -> source; ``entry_points``: plugin name -> module;
    ``provides``: ``FAMILY.NAME`` -> module (the ``secrets_core.provides`` group)."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    text = "[secrets_core]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    if provides:
        text += "\n[secrets_core.provides]\n" + "".join(f"{k} = {v}\n" for k, v in provides.items())
    (info / "entry_points.txt").write_text(text)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return site
