"""The plugin index: a later process loads only the plugins it needs, and any doubt about the
index (a changed installation, an edited file, a plugin that changed) falls back to the full
discovery."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_core import defaults
from secrets_core.plugin import PluginPolicy, PluginRegistry, get_registry, reset_registry
from secure_secrets import SecureSecretsManager


def index_file() -> Path:
    return defaults.plugin_index_path()


def run_python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (same XDG home); it prints a JSON report."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


READ_IN_A_NEW_PROCESS = """
import json, sys
from secure_secrets import SecureSecretsManager
value = SecureSecretsManager().retrieve_secret("indexed")
print(json.dumps({
    "value": value,
    "pluggy": "pluggy" in sys.modules,
    "vault": "secure_secrets_vault.plugin" in sys.modules,
    "env": "secure_secrets_env.plugin" in sys.modules,
}))
"""


def test_a_full_discovery_writes_a_private_index() -> None:
    assert not index_file().exists()
    get_registry().plugins()
    document = json.loads(index_file().read_text())
    assert stat.S_IMODE(index_file().stat().st_mode) == 0o600
    provides = document["installations"][0]["provides"]
    assert provides["backend"]["file"][:3] == [
        "file",
        "secure_secrets_file.plugin",
        "secure-secrets-file",
    ]
    assert provides["audit sink"]["jsonl"][0] == "core"
    assert "fernet" in provides["cipher"] and "keyfile" in provides["key source"]


@pytest.mark.slow
def test_a_later_process_loads_only_the_plugins_it_uses() -> None:
    SecureSecretsManager().store_secret("indexed", "v1")
    first = run_python(READ_IN_A_NEW_PROCESS)  # its sys.path differs from pytest's
    assert first == {"value": "v1", "pluggy": True, "vault": True, "env": True}
    report = run_python(READ_IN_A_NEW_PROCESS)
    assert report == {"value": "v1", "pluggy": False, "vault": False, "env": False}


@pytest.mark.slow
def test_without_an_index_the_full_discovery_runs() -> None:
    SecureSecretsManager().store_secret("indexed", "v1")
    index_file().unlink()
    report = run_python(READ_IN_A_NEW_PROCESS)
    assert report["value"] == "v1" and report["pluggy"] and report["vault"]
    assert index_file().exists()  # and it wrote the index again


@pytest.mark.slow
def test_a_changed_installation_invalidates_the_index(tmp_path: Path) -> None:
    get_registry().plugins()
    site = tmp_path / "site"
    site.mkdir()
    SecureSecretsManager().store_secret("indexed", "v1")
    code = f"import sys; sys.path.insert(0, {str(site)!r})\n" + READ_IN_A_NEW_PROCESS
    assert run_python(code)["pluggy"], "another sys.path is another installation"
    assert not run_python(code)["pluggy"], "the index is in use"
    before = json.loads(index_file().read_text())["installations"][0]["fingerprint"]
    os.utime(site, ns=(1, 1))  # "a distribution was installed there"
    report = run_python(code)
    assert report["pluggy"] and report["value"] == "v1"
    assert json.loads(index_file().read_text())["installations"][0]["fingerprint"] != before


#: A dist-info directory outside sys.path that declares the file plugin's entry point.
FOREIGN_INFO = "/tmp/secure-secrets-test-foreign/fake-1.0.dist-info"


@pytest.mark.slow
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda entry: entry.__setitem__(1, "os:sep"), id="another-module"),
        pytest.param(lambda entry: entry.__setitem__(0, "env"), id="another-entry-point"),
        pytest.param(lambda entry: entry.__setitem__(4, "/nonexistent"), id="another-dist-info"),
        pytest.param(
            lambda entry: entry.__setitem__(4, FOREIGN_INFO), id="a-dist-info-off-sys-path"
        ),
        pytest.param(lambda entry: entry.pop(), id="malformed"),
    ],
)
def test_an_edited_index_is_not_trusted(tamper: object) -> None:
    foreign = Path(FOREIGN_INFO)
    foreign.mkdir(parents=True, exist_ok=True)
    (foreign / "entry_points.txt").write_text("[secrets_core]\nfile = secure_secrets_file.plugin\n")
    SecureSecretsManager().store_secret("indexed", "v1")
    assert run_python(READ_IN_A_NEW_PROCESS)["pluggy"]
    assert not run_python(READ_IN_A_NEW_PROCESS)["pluggy"], "the index is in use"
    document = json.loads(index_file().read_text())
    tamper(document["installations"][0]["provides"]["backend"]["file"])  # type: ignore[operator]
    index_file().write_text(json.dumps(document))
    report = run_python(READ_IN_A_NEW_PROCESS)
    assert report["value"] == "v1"
    assert report["pluggy"], "the edited entry was refused and the full discovery ran"


@pytest.mark.slow
def test_a_name_the_plugin_no_longer_provides_falls_back(tmp_path: Path) -> None:
    get_registry().plugins()
    document = json.loads(index_file().read_text())
    provides = document["installations"][0]["provides"]
    provides["backend"]["ghost"] = provides["backend"]["file"]
    index_file().write_text(json.dumps(document))
    reset_registry()
    registry = get_registry()
    from secrets_core.errors import PluginNotFoundError

    with pytest.raises(PluginNotFoundError, match="no backend named 'ghost'"):
        registry.backend("ghost")


def test_strict_mode_never_uses_the_index() -> None:
    get_registry().plugins()
    strict = get_registry(PluginPolicy(strict=True))
    assert strict._pm is not None, "strict discovery loads every plugin at once"
    lazy = PluginRegistry(PluginPolicy(), index_path=index_file())
    assert lazy._pm is None
    assert lazy.backend("file").name == "file"
    assert lazy._pm is None, "answered from the index"


def test_an_unwritable_cache_only_costs_speed() -> None:
    cache = index_file().parent
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a directory")
    SecureSecretsManager().store_secret("indexed", "v1")
    assert SecureSecretsManager().retrieve_secret("indexed") == "v1"


def test_the_marker_carries_pluggys_options_and_pluggys_own_marker_works_too() -> None:
    import pluggy

    from secrets_core import hookimpl
    from secrets_core.plugin import BackendSpec

    class Ours:
        @hookimpl(tryfirst=True)
        def secrets_register_backends(self) -> list[BackendSpec]:
            return [BackendSpec("ours-mem", lambda options, context: None)]

    class Theirs:
        @pluggy.HookimplMarker("secrets_core")(trylast=True)
        def secrets_register_backends(self) -> list[BackendSpec]:
            return [BackendSpec("theirs-mem", lambda options, context: None)]

    from secrets_core import builtin

    registry = PluginRegistry(internal=[("core", builtin), ("ours", Ours()), ("theirs", Theirs())])
    impls = {i.plugin_name: i for i in registry.pm.hook.secrets_register_backends.get_hookimpls()}
    assert impls["ours"].tryfirst and not impls["ours"].trylast
    assert impls["theirs"].trylast
    assert {"ours-mem", "theirs-mem"} <= set(registry.names("backend"))


@pytest.mark.slow
def test_two_installations_keep_their_own_entries(tmp_path: Path) -> None:
    """A console script and ``python -c`` differ in sys.path[0]: alternating between them
    must not make each one rebuild the index."""
    SecureSecretsManager().store_secret("indexed", "v1")
    site = tmp_path / "site"
    site.mkdir()
    other = f"import sys; sys.path.insert(0, {str(site)!r})\n" + READ_IN_A_NEW_PROCESS
    assert run_python(READ_IN_A_NEW_PROCESS)["pluggy"]  # first sight of each: discovery
    assert run_python(other)["pluggy"]
    for _ in range(2):
        assert not run_python(READ_IN_A_NEW_PROCESS)["pluggy"]
        assert not run_python(other)["pluggy"]
    assert len(json.loads(index_file().read_text())["installations"]) == 3  # and pytest's
