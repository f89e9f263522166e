"""Plugin discovery through real entry points: built-ins, broken and clashing third-party
distributions, strict mode, allow/block lists, laziness and a core-only installation.

Fake third-party plugins are real distributions: a module from tests/fixtures/fake_plugins
copied into a temp dir beside a ``*.dist-info`` with METADATA and entry_points.txt, put on
``sys.path`` and found by ``importlib.metadata`` like any installed wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from secrets_core.assembly import list_plugins
from secrets_core.errors import (
    BackendConfigurationError,
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
)
from secrets_core.plugin import PluginInfo, PluginPolicy, get_registry, reset_registry
from secrets_core.plugin._registry import HOOKS as REGISTRATION_HOOKS
from secure_secrets import SecureSecretsManager

FAKE_PLUGINS = Path(__file__).parent / "fixtures" / "fake_plugins"
#: Built-in entry point -> a hook it must implement (plugins may grow more hooks).
BUILTINS = {
    "file": "secrets_register_backends",
    "fernet": "secrets_register_ciphers",
    "env": "secrets_register_backends",
    "vault": "secrets_register_backends",
}


def install_fake_distribution(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dist: str,
    entry_points: dict[str, str],
    version: str = "9.8.7",
) -> Path:
    """Make ``dist`` importable and discoverable; ``entry_points`` maps name -> module."""
    site = tmp_path / f"site-{dist}"
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = [f"{name} = {module}" for name, module in entry_points.items()]
    (info / "entry_points.txt").write_text("[secrets_core]\n" + "\n".join(lines) + "\n")
    for module in set(entry_points.values()):
        shutil.copy(FAKE_PLUGINS / f"{module}.py", site / f"{module}.py")
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))
    reset_registry()
    return site


def by_name(infos: list[PluginInfo]) -> dict[str, PluginInfo]:
    return {info.name: info for info in infos}


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- built-ins -------------------------------------------------------------------------------


def test_builtins_are_discovered_through_entry_points() -> None:
    declared = {ep.name for ep in importlib.metadata.entry_points(group="secrets_core")}
    assert set(BUILTINS) <= declared

    infos = by_name(list_plugins())
    for name, hook in BUILTINS.items():
        info = infos[name]
        dist = f"secure-secrets-{name}"
        assert info.distribution == dist
        assert info.version == importlib.metadata.version(dist)
        assert info.status == "active"
        assert hook in info.hooks
        assert set(info.hooks) <= set(REGISTRATION_HOOKS)
        assert info.error is None
    assert "backend:file" in infos["file"].provides
    assert "cipher:fernet" in infos["fernet"].provides
    assert "backend:vault" in infos["vault"].provides
    core = infos["core"]
    assert (core.distribution, core.status) == ("secure-secrets", "active")
    assert set(core.provides) >= {"audit sink:jsonl", "audit sink:logging", "key source:keyfile"}


def test_list_plugins_is_exported_by_the_facade() -> None:
    import secure_secrets

    assert secure_secrets.list_plugins is list_plugins
    assert secure_secrets.PluginInfo is PluginInfo


def test_registry_names_per_family() -> None:
    registry = get_registry()
    assert {"file", "env", "vault"} <= set(registry.names("backend"))
    assert "fernet" in registry.names("cipher")
    assert {"jsonl", "logging"} <= set(registry.names("audit sink"))
    assert registry.lookup("backend", "file").name == "file"


# --- failures are recorded, strict mode raises -----------------------------------------------


def test_broken_plugin_is_recorded_and_the_rest_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-broken", {"broken": "ssfake_broken"})
    infos = by_name(list_plugins())
    broken = infos["broken"]
    assert broken.status == "failed"
    assert broken.distribution == "fake-broken"
    assert broken.version == "9.8.7"
    assert "ImportError" in (broken.error or "")
    assert broken.hooks == ()
    for name in BUILTINS:
        assert infos[name].status == "active"

    manager = SecureSecretsManager()
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"


@pytest.mark.parametrize("how", ["env", "policy", "config"])
def test_strict_mode_raises_plugin_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path, how: str
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-broken", {"broken": "ssfake_broken"})
    if how == "policy":
        with pytest.raises(PluginLoadError) as info:
            get_registry(PluginPolicy(strict=True))
    else:
        if how == "env":
            monkeypatch.setenv("SECURE_SECRETS_PLUGINS_STRICT", "1")
        else:
            config = isolated_home / "config" / "secure-secrets" / "config.toml"
            config.parent.mkdir(parents=True)
            config.write_text("[plugins]\nstrict = true\n")
        with pytest.raises(PluginLoadError) as info:
            SecureSecretsManager().store_secret("k", "v")
        with pytest.raises(PluginLoadError):
            list_plugins()
    assert "fake-broken" in str(info.value)
    assert "9.8.7" in str(info.value)


def test_strict_mode_without_broken_plugins_works() -> None:
    manager = SecureSecretsManager(plugin_policy=PluginPolicy(strict=True))
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"


def test_plugin_implementing_an_unknown_hook_is_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-unknown", {"unk": "ssfake_unknown_hook"})
    info = by_name(list_plugins())["unk"]
    assert info.status == "failed"
    assert "secrets_register_widgets" in (info.error or "")
    with pytest.raises(PluginNotFoundError):
        get_registry().lookup("backend", "unknown-hook-backend")


def test_plugin_that_imports_the_secrets_core_package_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-plain", {"plain": "ssfake_plain_import"})
    info = by_name(list_plugins())["plain"]
    assert (info.status, info.error) == ("active", None)
    assert get_registry().lookup("backend", "plain-import-backend").name == "plain-import-backend"


def test_plugin_returning_the_wrong_descriptor_type_is_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-wrong", {"wrong": "ssfake_wrong_type"})
    info = by_name(list_plugins())["wrong"]
    assert info.status == "failed"
    assert info.distribution == "fake-wrong"
    assert "CipherSpec" in (info.error or "") and "BackendSpec" in (info.error or "")
    # Nothing it registered is indexed, not even the well-typed descriptor.
    with pytest.raises(PluginNotFoundError):
        get_registry().lookup("backend", "wrong-type-backend")
    with pytest.raises(PluginLoadError):
        get_registry(PluginPolicy(strict=True))


# --- allow and block lists -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["config", "env"])
def test_block_list(isolated_home: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "env":
        monkeypatch.setenv("SECURE_SECRETS_PLUGINS_BLOCK", "vault, env")
    else:
        config = isolated_home / "config" / "secure-secrets" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text('[plugins]\nblock = ["vault", "env"]\n')

    infos = by_name(list_plugins())
    assert infos["vault"].status == "blocked"
    assert infos["vault"].distribution == "secure-secrets-vault"
    assert infos["env"].status == "blocked"
    assert infos["file"].status == "active"

    manager = SecureSecretsManager()
    with pytest.raises(PluginNotFoundError) as info:
        manager.store_secret("k", "v", backend_type="vault")
    assert "pip install secure-secrets-vault" in str(info.value)
    assert "blocked" in str(info.value)
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"


def test_env_block_list_overrides_the_config_file(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[plugins]\nblock = ["vault"]\n')
    monkeypatch.setenv("SECURE_SECRETS_PLUGINS_BLOCK", "env")
    infos = by_name(list_plugins())
    assert infos["env"].status == "blocked"
    assert infos["vault"].status == "active"


@pytest.mark.parametrize("how", ["config", "env", "policy"])
def test_allow_list(isolated_home: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    policy = None
    if how == "env":
        monkeypatch.setenv("SECURE_SECRETS_PLUGINS_ALLOW", "file,fernet")
    elif how == "config":
        config = isolated_home / "config" / "secure-secrets" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text('[plugins]\nallow = ["file", "fernet"]\n')
    else:
        policy = PluginPolicy(allow=frozenset({"file", "fernet"}))

    infos = by_name(list_plugins(policy))
    assert {n: infos[n].status for n in BUILTINS} == {
        "file": "active",
        "fernet": "active",
        "env": "blocked",
        "vault": "blocked",
    }
    assert infos["core"].status == "active"  # the core's own sinks and key sources always load
    manager = SecureSecretsManager(plugin_policy=policy)
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"
    with pytest.raises(PluginNotFoundError, match="secure-secrets-vault"):
        manager.retrieve_secret("k", backend_type="vault")


def test_allow_list_without_the_cipher_names_its_distribution() -> None:
    manager = SecureSecretsManager(plugin_policy=PluginPolicy(allow=frozenset({"file"})))
    with pytest.raises(PluginNotFoundError, match="pip install secure-secrets-fernet"):
        manager.store_secret("k", "v")


# --- clashes ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_undeclared_registration_of_a_declared_name_is_shadowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """secure-secrets-file declares backend.file in its metadata; a plugin that registers
    "file" without declaring it is reported as shadowed, and the real one keeps working."""
    install_fake_distribution(tmp_path, monkeypatch, "fake-dup", {"dupfile": "ssfake_dup_backend"})
    manager = SecureSecretsManager()
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"
    dup = by_name(list_plugins())["dupfile"]
    assert (dup.status, dup.shadowed) == ("active", ("backend:file",))


def test_two_undeclared_registrations_of_one_name_clash_and_blocking_a_dist_resolves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-mem-a", {"mem-a": "ssfake_memory"})
    other = tmp_path / "other"
    install_fake_distribution(other, monkeypatch, "fake-mem-b", {"mem-b": "ssfake_memory_copy"})
    with pytest.raises(PluginConflictError) as info:
        SecureSecretsManager(default_backend="fakemem").store_secret("k", "v")
    message = str(info.value)
    assert "fake-mem-a" in message and "fake-mem-b" in message
    assert 'plugins.block = ["dist:fake-mem-b"]' in message  # says what to do, and it works:
    monkeypatch.setenv("SECURE_SECRETS_PLUGINS_BLOCK", "dist:fake-mem-b")
    reset_registry()
    manager = SecureSecretsManager(default_backend="fakemem")
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"
    infos = list_plugins()
    assert {(i.name, i.status) for i in infos} >= {("mem-a", "active"), ("mem-b", "blocked")}


def test_two_distributions_with_one_entry_point_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-same-ep", {"vault": "ssfake_same_ep"})
    clashing = [info for info in list_plugins() if info.name == "vault"]
    assert {info.distribution for info in clashing} == {"secure-secrets-vault", "fake-same-ep"}
    failed = [info for info in clashing if info.status == "failed"]
    assert len(failed) == 1
    assert "secure-secrets-vault" in (failed[0].error or "")
    assert "fake-same-ep" in (failed[0].error or "")
    with pytest.raises(PluginConflictError, match="fake-same-ep"):
        get_registry(PluginPolicy(strict=True))


# --- third-party backends by name ------------------------------------------------------------


def test_third_party_backend_by_string_gets_envelope_encryption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, monkeypatch, "fake-memory", {"fakemem": "ssfake_memory"})
    manager = SecureSecretsManager()
    event = manager.store_secret("k", "plain-value", backend_type="fakemem")
    assert event.backend == "fakemem"
    assert manager.retrieve_secret("k", backend_type="fakemem") == "plain-value"
    assert manager.list_secrets(backend_type="fakemem") == ["k"]

    stored = sys.modules["ssfake_memory"].STORE["k"]
    assert isinstance(stored, bytes) and stored.startswith(b"ss1:")
    assert b"plain-value" not in stored

    as_default = SecureSecretsManager(default_backend="fakemem")
    assert as_default.retrieve_secret("k") == "plain-value"
    as_default.delete_secret("k")
    assert sys.modules["ssfake_memory"].STORE == {}


# --- discovery runs once, lazily -------------------------------------------------------------


def test_discovery_runs_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_registry()
    assert get_registry() is first
    assert SecureSecretsManager().registry is first
    assert SecureSecretsManager().registry is SecureSecretsManager().registry
    assert "file" in by_name(first.plugins())  # listing runs the full discovery

    # A distribution installed after discovery is not seen until the cache is reset...
    site = tmp_path / "late"
    install_fake_distribution(site, monkeypatch, "fake-late", {"late": "ssfake_memory"})
    reset_registry()
    refreshed = get_registry()
    assert refreshed is not first
    assert "late" in by_name(refreshed.plugins())
    assert "late" not in by_name(first.plugins())


def test_registry_is_cached_without_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = get_registry()
    before.plugins()  # the full discovery has run
    site = tmp_path / "site-fake-unseen"
    info = site / "fake_unseen-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-unseen\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[secrets_core]\nunseen = ssfake_memory\n")
    monkeypatch.syspath_prepend(str(site))
    assert get_registry() is before
    assert "unseen" not in by_name(list_plugins(PluginPolicy()))


@pytest.mark.slow
def test_constructing_a_manager_loads_no_plugin_and_no_heavy_dependency() -> None:
    result = run_python(
        """
        import sys
        def loaded(*names):
            return sorted(n for n in names if n in sys.modules)
        HEAVY = ("hvac", "requests", "cryptography")
        from secure_secrets import SecureSecretsManager, list_plugins
        m = SecureSecretsManager()
        print("construct", loaded("secure_secrets_file.plugin", *HEAVY))
        list_plugins()
        print("list", loaded(*HEAVY))
        print("plugins", loaded("secure_secrets_file.plugin", "secure_secrets_fernet.plugin"))
        m.store_secret("k", "v")
        print("store", loaded(*HEAVY))
        m.retrieve_secret("k")
        try:
            m.store_secret("k", "v", backend_type="vault")
        except Exception:
            pass
        print("vault", loaded(*HEAVY))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "construct []",
        "list []",
        "plugins ['secure_secrets_fernet.plugin', 'secure_secrets_file.plugin']",
        "store ['cryptography']",
        "vault ['cryptography']",
    ]


# --- only the core installed -----------------------------------------------------------------


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


@pytest.mark.slow
def test_core_alone_names_the_distribution_to_install(tmp_path: Path) -> None:
    site = tmp_path / "core-only"
    site.mkdir()
    needed = ["secrets_core", "secure_secrets", "pluggy", "platformdirs", "filelock"]
    if sys.version_info < (3, 11):
        needed.append("tomli")
    for module in needed:
        source = _package_dir(module)
        (site / source.name).symlink_to(source)
    info = site / "secure_secrets-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: secure-secrets\nVersion: 0.1.0\n")

    result = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        import importlib.util
        assert importlib.util.find_spec("secure_secrets_file") is None, "not isolated"
        from secure_secrets import SecureSecretsManager, list_plugins
        from secrets_core.errors import PluginNotFoundError
        print([(p.name, p.distribution, p.version, p.status) for p in list_plugins()])
        for call in (lambda m: m.store_secret("k", "v"), lambda m: m.retrieve_secret("k")):
            try:
                call(SecureSecretsManager())
            except PluginNotFoundError as exc:
                print(exc)
            else:
                raise SystemExit("no error")
        """,
        "-I",
        "-S",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[('core', 'secure-secrets', '0.1.0', 'active')]"
    assert len(lines) == 3
    for line in lines[1:]:
        assert "pip install secure-secrets-file" in line


def test_unconfigured_vault_says_what_to_set() -> None:
    with pytest.raises(BackendConfigurationError, match="VAULT_ADDR"):
        SecureSecretsManager().list_secrets(backend_type="vault")
