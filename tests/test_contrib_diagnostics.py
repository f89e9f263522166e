"""Diagnostics for third-party-style plugins: the contrib plugins are listed as active with
their distributions, a broken contrib-style plugin (an import error) is listed as failed
with its distribution and version while the others keep working, and the plugin author's
guide documents every hook and capability."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from secrets_core.plugin import Capability, PluginInfo, reset_registry
from secrets_core.plugin._registry import HOOKS as REGISTRATION_HOOKS
from secure_secrets import SecureSecretsManager, list_plugins

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugin-authors.md"

#: contrib entry point -> (distribution, what it registers)
CONTRIB = {
    "sqlite": ("secure-secrets-sqlite", "backend:sqlite"),
    "os-keyring": ("secure-secrets-keyring", "key source:os-keyring"),
    "webhook": ("secure-secrets-webhook-audit", "audit sink:webhook"),
    "template-memory": ("secure-secrets-plugin-template", "backend:memory"),
}
BROKEN_DIST = "secure-secrets-broken-example"
BROKEN_VERSION = "0.3.1"


def by_name(infos: list[PluginInfo]) -> dict[str, PluginInfo]:
    return {info.name: info for info in infos}


@pytest.fixture
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A contrib-style distribution whose plugin module fails to import (a dependency is
    missing), made discoverable through a real ``*.dist-info`` on ``sys.path``."""
    site = tmp_path / "site"
    package = site / "secure_secrets_broken_example"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A deliberately broken example plugin."""\n')
    (package / "plugin.py").write_text(
        textwrap.dedent(
            """
            import secure_secrets_broken_example_missing_dependency  # not installed anywhere

            from secrets_core import hookimpl


            @hookimpl
            def secrets_register_backends():
                return []
            """
        )
    )
    info = site / f"secure_secrets_broken_example-{BROKEN_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {BROKEN_DIST}\nVersion: {BROKEN_VERSION}\n"
    )
    (info / "entry_points.txt").write_text(
        "[secrets_core]\nbroken-example = secure_secrets_broken_example.plugin\n"
    )
    monkeypatch.syspath_prepend(str(site))
    for module in ("secure_secrets_broken_example", "secure_secrets_broken_example.plugin"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    reset_registry()
    return site


def test_contrib_plugins_are_listed_active_with_their_distributions() -> None:
    infos = by_name(list_plugins())
    for name, (dist, provides) in CONTRIB.items():
        info = infos.get(name)
        assert info is not None, f"contrib plugin {name} is not installed (pip install -e)"
        assert info.distribution == dist
        assert info.version == importlib.metadata.version(dist)
        assert info.status == "active", info.error
        assert info.error is None
        assert provides in info.provides
        assert set(info.hooks) <= set(REGISTRATION_HOOKS)


def test_broken_contrib_plugin_is_failed_and_the_others_keep_working(
    broken_site: Path, tmp_path: Path, isolated_home: Path
) -> None:
    infos = by_name(list_plugins())
    broken = infos["broken-example"]
    assert (broken.distribution, broken.version, broken.status) == (
        BROKEN_DIST,
        BROKEN_VERSION,
        "failed",
    )
    assert "ModuleNotFoundError" in (broken.error or "")
    assert "secure_secrets_broken_example_missing_dependency" in (broken.error or "")
    assert broken.hooks == () and broken.provides == ()
    for name in CONTRIB:
        assert infos[name].status == "active", f"{name} must survive a broken neighbour"

    manager = SecureSecretsManager(
        default_backend="sqlite", backends={"sqlite": {"path": str(tmp_path / "s.sqlite3")}}
    )
    manager.store_secret("app/key", "value")
    assert manager.retrieve_secret("app/key") == "value"
    manager.close()


@pytest.mark.slow
def test_cli_reports_the_broken_plugin_and_the_contrib_ones(broken_site: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(broken_site), *sys.path]))
    result = subprocess.run(
        [sys.executable, "-c", "from secrets_core.cli import main; main()", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.stdout, result.stderr
    infos = {row["name"]: row for row in json.loads(result.stdout)}
    assert infos["broken-example"]["status"] == "failed"
    assert infos["broken-example"]["distribution"] == BROKEN_DIST
    assert infos["broken-example"]["version"] == BROKEN_VERSION
    for name, (dist, _provides) in CONTRIB.items():
        assert (infos[name]["distribution"], infos[name]["status"]) == (dist, "active")


@pytest.mark.parametrize("hook", sorted(REGISTRATION_HOOKS))
def test_guide_documents_every_hook(hook: str) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert f"`{hook}`" in text, f"docs/plugin-authors.md must document the hook {hook}"
    assert f"def {hook}(" in text, f"docs/plugin-authors.md needs an example implementing {hook}"


@pytest.mark.parametrize("capability", list(Capability), ids=lambda c: c.name)
def test_guide_documents_every_capability(capability: Capability) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert f"Capability.{capability.name}" in text, (
        f"docs/plugin-authors.md must document Capability.{capability.name}"
    )
