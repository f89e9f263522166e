"""One broken third-party plugin never takes the install down (issue 19, items 1-3).

Broken plugins are real distributions (a module beside a ``*.dist-info`` on ``sys.path``);
each is recorded as failed with a message that names the field and the distribution, and
the file backend keeps working. The last test does the same through the CLI in a fresh
process with every broken plugin installed at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_core.assembly import list_plugins
from secrets_core.errors import PluginContractError, PluginLoadError
from secrets_core.plugin import PluginInfo, PluginPolicy, PluginRegistry, reset_registry
from secure_secrets import SecureSecretsManager
from tests.helpers.fake_dist import write_distribution

HEAD = """
import time
from secrets_core import hookimpl
from secrets_core.plugin import (
    AuditSinkSpec, BackendSpec, CipherSpec, ConfigOption, KdfSpec, KeySourceSpec)
"""


def backends(*specs: str) -> str:
    return (
        HEAD + f"\n@hookimpl\ndef secrets_register_backends():\n    return [{', '.join(specs)}]\n"
    )


OK = "'x:Y'"
#: plugin name -> (module source, what its failure message must name)
BROKEN: dict[str, tuple[str, str]] = {
    "raises-runtime": ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    "raises-exit": (
        "import argparse\nargparse.ArgumentParser().parse_args(['--nope'])\n",
        "SystemExit: 2",
    ),  # fmt: skip
    "name-none": (backends(f"BackendSpec(name=None, factory={OK})"), "field 'name' is None"),
    "name-empty": (backends(f"BackendSpec(name='', factory={OK})"), "field 'name' is ''"),
    "name-space": (backends(f"BackendSpec(name='a b', factory={OK})"), "field 'name' is 'a b'"),
    "name-dots": (backends(f"BackendSpec(name='..', factory={OK})"), "field 'name' is '..'"),
    "bad-capability": (
        backends(f"BackendSpec(name='bc', factory={OK}, capabilities={{'fly'}})"),
        "unknown capability 'fly'",
    ),  # fmt: skip
    "bad-option": (
        backends(f"BackendSpec(name='bo', factory={OK}, options={{'x': str}})"),
        "option 'x' is type, expected ConfigOption",
    ),  # fmt: skip
    "bad-factory": (backends("BackendSpec(name='bf', factory=42)"), "field 'factory' is int"),
    "bad-factory-string": (
        backends("BackendSpec(name='bs', factory='not a path')"),
        "field 'factory' is 'not a path'",
    ),  # fmt: skip
    "duplicate": (
        backends(f"BackendSpec(name='dd', factory={OK})", f"BackendSpec(name='dd', factory={OK})"),
        "registers backend 'dd' twice",
    ),  # fmt: skip
    "returns-dict": (
        HEAD + "@hookimpl\ndef secrets_register_ciphers():\n    return {'a': 1}\n",
        "secrets_register_ciphers returned dict",
    ),  # fmt: skip
    "bad-key-size": (
        HEAD + "@hookimpl\ndef secrets_register_ciphers():\n"
        f"    return [CipherSpec(name='ks', factory={OK}, key_size='32')]\n",
        "field 'key_size'",
    ),  # fmt: skip
    "unknown-hook": (
        HEAD + "@hookimpl\ndef secrets_register_widgets():\n    return []\n",
        "secrets_register_widgets",
    ),  # fmt: skip
    "hostile-text": (
        "raise RuntimeError('\\x1b[31mred\\nfake: line' + 'x' * 5000)\n",
        "?[31mred?fake: line",
    ),  # fmt: skip
}
#: Plugins that load, but are reported (shadowed), or fail only when used.
LOADING = {
    "none-factory": backends("BackendSpec(name='nonef', factory=lambda options, context: None)"),
    "core-clash": HEAD + "@hookimpl\ndef secrets_register_audit_sinks():\n"
    "    return [AuditSinkSpec(name='jsonl', factory='x:Y')]\n"
    "@hookimpl\ndef secrets_register_key_sources():\n"
    "    return [KeySourceSpec(name=n, factory='x:Y') for n in ('keyfile', 'env', 'passphrase')]\n",
    "slow": "import time\ntime.sleep(2)\n" + backends("BackendSpec(name='slowb', factory='x:Y')"),
}


def module_name(plugin: str) -> str:
    return "ssbroken_" + plugin.replace("-", "_")


def install_all(site: Path) -> None:
    sources = {name: source for name, (source, _) in BROKEN.items()} | LOADING
    for plugin, source in sources.items():
        module = module_name(plugin)
        write_distribution(site, f"fake-{plugin}", {module: source}, {plugin: module})
    # an entry-point-name clash with the built-in file plugin
    write_distribution(site, "fake-clash", {"ssbroken_clash": HEAD}, {"file": "ssbroken_clash"})


@pytest.fixture
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    install_all(site)
    monkeypatch.syspath_prepend(str(site))
    for plugin in [*BROKEN, *LOADING, "clash"]:
        monkeypatch.delitem(sys.modules, module_name(plugin), raising=False)
    reset_registry()
    return site


def infos_by_name() -> dict[str, PluginInfo]:
    return {info.name: info for info in list_plugins() if info.distribution != "fake-clash"}


def test_every_broken_plugin_is_failed_with_a_message_naming_the_field(broken_site: Path) -> None:
    infos = infos_by_name()
    for plugin, (_source, expected) in BROKEN.items():
        info = infos[plugin]
        assert (info.status, info.distribution) == ("failed", f"fake-{plugin}"), info
        assert expected in (info.error or ""), (plugin, info.error)
        assert len(info.error or "") < 300 and "\x1b" not in (info.error or "")
    assert all(infos[name].status == "active" for name in ("file", "fernet", "core"))


def test_the_file_backend_works_beside_them(broken_site: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("app/key", "value")
    assert manager.retrieve_secret("app/key") == "value"


def test_core_names_win_and_the_clash_is_reported_as_shadowed(broken_site: Path) -> None:
    clash = infos_by_name()["core-clash"]
    assert clash.status == "active"
    assert set(clash.shadowed) == {
        "audit sink:jsonl", "key source:keyfile", "key source:env", "key source:passphrase"
    }  # fmt: skip


def test_an_entry_point_clash_names_both_and_blocking_the_dist_resolves_it(
    broken_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clash = [i for i in list_plugins() if i.name == "file" and i.status == "failed"]
    assert len(clash) == 1 and 'plugins.block = ["dist:fake-clash"]' in (clash[0].error or "")
    monkeypatch.setenv("SECURE_SECRETS_PLUGINS_BLOCK", "dist:fake-clash")
    reset_registry()
    files = {(i.distribution, i.status) for i in list_plugins() if i.name == "file"}
    assert files == {("secure-secrets-file", "active"), ("fake-clash", "blocked")}


def test_a_factory_returning_none_is_a_typed_error_naming_the_plugin(broken_site: Path) -> None:
    manager = SecureSecretsManager(default_backend="nonef")
    with pytest.raises(PluginContractError, match="plugin 'none-factory' .fake-none-factory."):
        manager.store_secret("k", "v")


def test_strict_mode_raises_for_the_first_broken_plugin(broken_site: Path) -> None:
    with pytest.raises((PluginLoadError, PluginContractError)):
        PluginRegistry(PluginPolicy(strict=True))


def test_a_discovery_interrupted_by_ctrl_c_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write_distribution(site, "fake-ctrl-c", {"ssbroken_ctrl_c": "raise KeyboardInterrupt\n"},
                       {"aaa": "ssbroken_ctrl_c"})  # fmt: skip
    monkeypatch.syspath_prepend(str(site))
    registry = PluginRegistry(quick=True)
    with pytest.raises(KeyboardInterrupt):
        registry.plugins()
    assert registry._found is None, "a half-done discovery must not be cached"
    monkeypatch.delitem(sys.modules, "ssbroken_ctrl_c", raising=False)
    (site / "ssbroken_ctrl_c.py").write_text("")
    assert {i.name for i in registry.plugins()} >= {"aaa", "file", "core"}


def test_a_plugin_is_registered_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first hook's good backend is not indexed when the second hook is malformed."""
    source = backends("BackendSpec(name='half', factory='x:Y')") + (
        "@hookimpl\ndef secrets_register_ciphers():\n    return [None]\n"
    )
    site = tmp_path / "site"
    write_distribution(site, "fake-half", {"ssbroken_half": source}, {"half": "ssbroken_half"})
    monkeypatch.syspath_prepend(str(site))
    registry = PluginRegistry()
    assert "half" not in registry.names("backend")
    assert {i.name: i.status for i in registry.plugins()}["half"] == "failed"


@pytest.mark.slow
def test_cli_plugins_set_and_get_with_every_broken_plugin_installed(tmp_path: Path) -> None:
    """The done-when test: a fresh process with all of them installed at once."""
    site = tmp_path / "site"
    install_all(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRETS_")}
    env["PYTHONPATH"] = str(site)
    cli = [str(Path(sys.executable).parent / "secure-secrets")]

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
        )

    listed = run("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    infos = {(i["name"], i["distribution"]): i for i in json.loads(listed.stdout)}
    for plugin, (_source, expected) in BROKEN.items():
        info = infos[(plugin, f"fake-{plugin}")]
        assert info["status"] == "failed" and expected in info["error"], info
    assert infos[("file", "fake-clash")]["status"] == "failed"
    assert infos[("core-clash", "fake-core-clash")]["shadowed"]
    table = run("plugins")
    assert "error: import failed: SystemExit: 2" in table.stdout and "shadowed" in table.stdout
    stored = run("set", "app/key", stdin="s3cret-value\n")
    assert stored.returncode == 0, stored.stderr
    got = run("get", "app/key")
    assert (got.returncode, got.stdout.strip()) == (0, "s3cret-value"), got.stderr
