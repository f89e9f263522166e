"""The plugin index is the installed metadata: a lookup loads only the plugin whose
distribution declares the name (``secrets_core.provides``), applies the allow/block policy
on every lookup, writes no cache file, and falls back to the full discovery whenever the
metadata does not give exactly one answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_core.errors import PluginNotFoundError
from secrets_core.plugin import PluginPolicy, PluginRegistry, reset_registry
from secure_secrets import SecureSecretsManager
from tests.helpers.fake_dist import write_distribution

MEMORY = """
from secrets_core import hookimpl
from secrets_core.plugin import BackendSpec

@hookimpl
def secrets_register_backends():
    return [BackendSpec(name="{name}", factory="{module}:Memory")]

class Memory(dict):
    def __init__(self, options, context): super().__init__()
    def read(self, name): return self[name]
    def write(self, name, value): self[name] = value
    def delete(self, name): del self[name]
    def list_names(self, prefix=""): return sorted(self)
    def close(self): pass
"""
EXPLODES = "raise RuntimeError('this plugin must not be imported')\n"


def memory(name: str, module: str) -> str:
    return MEMORY.format(name=name, module=module)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    reset_registry()
    return path


def quick(policy: PluginPolicy | None = None) -> PluginRegistry:
    return PluginRegistry(policy, quick=True)


def test_a_declared_name_loads_only_its_plugin(site: Path) -> None:
    write_distribution(
        site, "acme-mem", {"acme_mem": memory("acme", "acme_mem")}, {"acme": "acme_mem"},
        {"backend.acme": "acme_mem"},
    )  # fmt: skip
    write_distribution(site, "acme-broken", {"acme_boom": EXPLODES}, {"boom": "acme_boom"})
    registry = quick()
    assert registry.lookup("backend", "acme").name == "acme"
    assert registry.lookup("backend", "file").name == "file"
    assert registry._found is None, "no full discovery: the broken plugin was never imported"
    assert "acme_boom" not in sys.modules


def test_an_undeclared_name_falls_back_to_the_full_discovery(site: Path) -> None:
    write_distribution(
        site, "acme-old", {"acme_old": memory("old", "acme_old")}, {"old": "acme_old"}
    )
    registry = quick()
    assert registry.lookup("backend", "old").name == "old"
    assert registry._found is not None


@pytest.mark.parametrize("block", ["file", "dist:secure-secrets-file", "dist:Secure_Secrets.File"])
def test_the_block_list_applies_to_every_lookup(block: str) -> None:
    registry = quick(PluginPolicy(block=frozenset({block})))
    with pytest.raises(PluginNotFoundError, match="blocked"):
        registry.lookup("backend", "file")


def test_the_allow_list_applies_to_every_lookup() -> None:
    registry = quick(PluginPolicy(allow=frozenset({"fernet"})))
    with pytest.raises(PluginNotFoundError):
        registry.lookup("backend", "file")
    assert registry.lookup("cipher", "fernet").name == "fernet"


def test_two_declarations_of_one_name_go_to_the_full_discovery(site: Path) -> None:
    for dist in ("acme-one", "acme-two"):
        module = dist.replace("-", "_")
        write_distribution(
            site, dist, {module: memory("twin", module)}, {dist: module}, {"backend.twin": module}
        )
    registry = quick()
    with pytest.raises(Exception, match="acme-one and acme-two"):
        registry.lookup("backend", "twin")
    assert registry.lookup("backend", "file").name == "file"


def test_an_entry_point_clash_elsewhere_costs_the_lookup_nothing(site: Path) -> None:
    write_distribution(site, "acme-a", {"acme_a": EXPLODES}, {"same": "acme_a"})
    write_distribution(site, "acme-b", {"acme_b": EXPLODES}, {"same": "acme_b"})
    registry = quick()
    assert registry.lookup("backend", "file").name == "file"
    assert registry._found is None


def test_the_core_names_are_answered_by_the_core(site: Path) -> None:
    """A third-party declaration of a core name is not even imported by a lookup."""
    write_distribution(site, "acme-jsonl", {"acme_jsonl": EXPLODES}, {"aj": "acme_jsonl"},
                       {"audit-sink.jsonl": "acme_jsonl"})  # fmt: skip
    registry = quick()
    spec = registry.lookup("audit sink", "jsonl")
    assert "plugin 'core'" in repr(spec.factory)
    assert "acme_jsonl" not in sys.modules


def test_no_cache_file_is_written_and_a_planted_one_changes_nothing(isolated_home: Path) -> None:
    cache = isolated_home / "cache"
    planted = cache / "secure-secrets" / "plugin-index.json"
    planted.parent.mkdir(parents=True)
    planted.write_text(json.dumps({"format": 2, "installations": "anything"}))
    manager = SecureSecretsManager()
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"
    assert [p.name for p in cache.rglob("*") if p.is_file()] == ["plugin-index.json"]


@pytest.mark.slow
def test_get_in_a_new_process_imports_only_the_plugins_it_needs() -> None:
    SecureSecretsManager().store_secret("indexed", "value-1")
    code = (
        "import json, sys\n"
        "from secure_secrets import SecureSecretsManager\n"
        "value = SecureSecretsManager().retrieve_secret('indexed')\n"
        "print(json.dumps([value, sorted(m for m in sys.modules if m.startswith('secure_secrets_')"
        " or m == 'pluggy')]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    value, modules = json.loads(result.stdout)
    assert value == "value-1"
    assert set(modules) <= {
        "secure_secrets_file", "secure_secrets_file.plugin", "secure_secrets_file.backend",
        "secure_secrets_file.locking", "secure_secrets_file.record", "secure_secrets_fernet",
        "secure_secrets_fernet.plugin", "secure_secrets_fernet.cipher",
    }, modules  # fmt: skip
