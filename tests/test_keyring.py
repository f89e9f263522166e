"""Keys on disk: private modes whatever the umask, symlink refusal, the KEK loaded once per
process, the env key source, and concurrent creation of the first keyring."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.errors import (
    BackendConfigurationError,
    KeyNotAvailableError,
    SecretsError,
)
from secure_secrets import SecureSecretsManager


def data_dir(home: Path) -> Path:
    return home / "data" / "secure-secrets"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def write_config(home: Path, text: str) -> None:
    path = home / "config" / "secure-secrets" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


# --- modes -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_private_modes_under_umask_000(
    isolated_home: Path, secret_file_name: Callable[[str], str]
) -> None:
    result = run_python(
        """
        import os
        os.umask(0)
        from secure_secrets import SecureSecretsManager
        m = SecureSecretsManager()
        m.store_secret("k", "v")
        m.rotate_encryption_key()
        m.store_secret("k2", b"w")
        """
    )
    assert result.returncode == 0, result.stderr
    root = data_dir(isolated_home)
    log_dir = isolated_home / "state" / "secure-secrets" / "log"
    assert mode(root) == 0o700
    assert mode(root / "store") == 0o700
    assert mode(log_dir) == 0o700
    private_files = [
        root / "keyring.json",
        root / "master.key",
        root / "store" / secret_file_name("k"),
        root / "store" / secret_file_name("k2"),
        log_dir / "audit.jsonl",
    ]
    for path in private_files:
        assert mode(path) == 0o600, path
    # Nothing anywhere under the data and log dirs is readable or writable by others.
    for base in (root, log_dir):
        for path in base.rglob("*"):
            assert mode(path) & 0o077 == 0, (path, oct(mode(path)))


def test_existing_loose_store_dir_is_tightened(isolated_home: Path) -> None:
    store = data_dir(isolated_home) / "store"
    store.mkdir(parents=True)
    store.chmod(0o777)
    SecureSecretsManager().store_secret("k", "v")
    assert mode(store) == 0o700


# --- symlinks --------------------------------------------------------------------------------


def test_symlinked_store_directory_is_refused(isolated_home: Path) -> None:
    real = isolated_home / "real-store"
    real.mkdir(parents=True)
    link = isolated_home / "linked-store"
    link.symlink_to(real)
    write_config(isolated_home, f'[backends.file]\npath = "{link}"\n')
    with pytest.raises(BackendConfigurationError, match="symlink"):
        SecureSecretsManager().store_secret("k", "v")
    assert list(real.iterdir()) == []


def test_symlinked_default_store_directory_is_refused(isolated_home: Path) -> None:
    real = isolated_home / "real-store"
    real.mkdir(parents=True)
    data_dir(isolated_home).mkdir(parents=True)
    (data_dir(isolated_home) / "store").symlink_to(real)
    with pytest.raises(BackendConfigurationError, match="symlink"):
        SecureSecretsManager().store_secret("k", "v")
    assert list(real.iterdir()) == []


def test_symlinked_key_file_is_refused(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("k", "v")
    key_file = data_dir(isolated_home) / "master.key"
    moved = isolated_home / "elsewhere.key"
    key_file.rename(moved)
    key_file.symlink_to(moved)
    with pytest.raises(SecretsError, match="symlink"):
        SecureSecretsManager().retrieve_secret("k")


def test_dangling_key_file_symlink_is_not_followed_on_creation(isolated_home: Path) -> None:
    target = isolated_home / "attacker-chosen.key"
    data_dir(isolated_home).mkdir(parents=True)
    (data_dir(isolated_home) / "master.key").symlink_to(target)
    with pytest.raises(SecretsError, match="symlink"):
        SecureSecretsManager().store_secret("k", "v")
    assert not target.exists()
    assert not (data_dir(isolated_home) / "keyring.json").exists()


def test_configured_key_file_path_symlink_is_refused(isolated_home: Path) -> None:
    real = isolated_home / "real.key"
    link = isolated_home / "link.key"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(real)
    write_config(isolated_home, f'[key_source]\nname = "keyfile"\npath = "{link}"\n')
    with pytest.raises(SecretsError, match="symlink"):
        SecureSecretsManager().store_secret("k", "v")
    assert not real.exists()


def test_symlinked_keyring_is_refused(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("k", "v")
    keyring = data_dir(isolated_home) / "keyring.json"
    moved = isolated_home / "keyring-elsewhere.json"
    keyring.rename(moved)
    keyring.symlink_to(moved)
    with pytest.raises(SecretsError):
        SecureSecretsManager().retrieve_secret("k")


# --- the KEK is loaded once per process ------------------------------------------------------


def test_kek_is_cached_after_first_use(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", "1")
    (data_dir(isolated_home) / "master.key").unlink()

    # The same manager does not read the key file again...
    manager.store_secret("b", "2")
    assert manager.retrieve_secret("a") == "1"
    assert manager.retrieve_secret("b") == "2"
    manager.rotate_encryption_key()
    assert manager.retrieve_secret("a") == "1"
    # ...while a new one has to, and cannot.
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("a")


def test_replaced_key_file_is_not_reread_by_a_running_manager(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", "1")
    key_file = data_dir(isolated_home) / "master.key"
    key_file.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    key_file.chmod(0o600)

    assert manager.retrieve_secret("a") == "1"
    with pytest.raises(KeyNotAvailableError, match="unwrapped"):
        SecureSecretsManager().retrieve_secret("a")


def test_master_key_is_not_in_the_keyring(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("a", "1")
    kek = (data_dir(isolated_home) / "master.key").read_bytes().strip()
    assert len(base64.b64decode(kek)) == 32
    keyring = (data_dir(isolated_home) / "keyring.json").read_bytes()
    assert kek not in keyring
    doc = json.loads(keyring)
    assert [k["id"] for k in doc["keys"]] == [doc["primary"]]


# --- the env key source ----------------------------------------------------------------------


def test_env_key_source(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SECURE_SECRETS_KEY_SOURCE", "env")
    monkeypatch.setenv("SECURE_SECRETS_KEK", kek)
    SecureSecretsManager().store_secret("k", "v")
    assert SecureSecretsManager().retrieve_secret("k") == "v"
    assert not (data_dir(isolated_home) / "master.key").exists()
    assert kek.encode() not in (data_dir(isolated_home) / "keyring.json").read_bytes()

    monkeypatch.setenv("SECURE_SECRETS_KEK", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(KeyNotAvailableError) as info:
        SecureSecretsManager().retrieve_secret("k")
    assert kek not in str(info.value)

    monkeypatch.delenv("SECURE_SECRETS_KEK")
    with pytest.raises(KeyNotAvailableError, match="SECURE_SECRETS_KEK"):
        SecureSecretsManager().retrieve_secret("k")


def test_keyring_remembers_its_key_source(monkeypatch: pytest.MonkeyPatch) -> None:
    SecureSecretsManager().store_secret("k", "v")
    monkeypatch.setenv("SECURE_SECRETS_KEY_SOURCE", "env")
    monkeypatch.setenv("SECURE_SECRETS_KEK", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(KeyNotAvailableError, match="keyfile"):
        SecureSecretsManager().retrieve_secret("k")


# --- concurrent creation ---------------------------------------------------------------------

WORKER = """
import os, sys, time
from pathlib import Path
index, rendezvous = sys.argv[1], Path(sys.argv[2])
from secure_secrets import SecureSecretsManager
manager = SecureSecretsManager()          # imports done before the start line
(rendezvous / f"ready-{index}").touch()
while not (rendezvous / "go").exists():
    time.sleep(0.001)
manager.store_secret(f"proc/{index}", f"value-{index}")
print(manager.retrieve_secret(f"proc/{index}"))
"""


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_concurrent_first_keyring_creation(
    isolated_home: Path, tmp_path: Path, round_: int
) -> None:
    workers = 4
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), str(rendezvous)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    try:
        while len(list(rendezvous.glob("ready-*"))) < workers:
            assert all(p.poll() is None for p in procs), "a worker died before the start"
            time.sleep(0.005)
        (rendezvous / "go").touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, err
        assert out.strip() == f"value-{i}"

    doc = json.loads((data_dir(isolated_home) / "keyring.json").read_text())
    assert len(doc["keys"]) == 1, "each process made its own keyring"
    manager = SecureSecretsManager()
    assert manager.list_secrets("proc/") == [f"proc/{i}" for i in range(workers)]
    for i in range(workers):
        assert manager.retrieve_secret(f"proc/{i}") == f"value-{i}"
    events = (isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl").read_text()
    stores = [json.loads(line) for line in events.splitlines()]
    assert sorted(e["secret_name"] for e in stores if e["operation"] == "store") == [
        f"proc/{i}" for i in range(workers)
    ]
