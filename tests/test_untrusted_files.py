"""Every local file the tool reads is untrusted input (hardening issue, items 2 and 4): a FIFO
planted in place of the keyring, the key file or the config must not hang a call, a deeply
nested or oversized file must not raise an untyped error, and a config file others can write
is refused, like ssh does, with the chmod to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import ConfigError, EncryptionError, SecretsError

PROBE = """
import sys
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretsError
try:
    SecureSecretsManager().retrieve_secret("app/token")
except SecretsError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def _probe() -> subprocess.CompletedProcess[str]:
    """One retrieve in a fresh process (a blocking open would hang it, not the test run)."""
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30)


@pytest.fixture
def stored(isolated_home: Path) -> SecureSecretsManager:
    manager = SecureSecretsManager()
    manager.store_secret("app/token", "value")
    return manager


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["keyring", "key file"])
def test_a_fifo_in_place_of_a_key_file_gives_a_typed_error(stored, which: str) -> None:
    data = stored.settings.data_dir
    _replace_with_fifo(data / ("keyring.json" if which == "keyring" else "master.key"))
    result = _probe()
    assert result.returncode == 3, result.stderr
    assert "not a regular file" in result.stdout


@pytest.mark.slow
def test_a_fifo_in_place_of_the_config_gives_a_typed_error(stored, isolated_home: Path) -> None:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(config, 0o600)
    result = _probe()
    assert result.returncode == 3, result.stderr
    assert "ConfigError" in result.stdout and "not a regular file" in result.stdout


def test_a_deeply_nested_keyring_is_corrupt_not_a_recursion_error(stored) -> None:
    path = stored.keyring_path
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(EncryptionError, match="corrupt"):
        SecureSecretsManager().retrieve_secret("app/token")


def test_an_oversized_keyring_is_refused_before_it_is_read(stored) -> None:
    path = stored.keyring_path
    with open(path, "r+b") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(SecretsError, match="larger than"):
        SecureSecretsManager().retrieve_secret("app/token")


def test_a_keyring_symlinked_to_a_device_is_refused(stored) -> None:
    path = stored.keyring_path
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(SecretsError):
        SecureSecretsManager().retrieve_secret("app/token")


def test_a_deeply_nested_config_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    os.chmod(config, 0o600)
    with pytest.raises(ConfigError):
        SecureSecretsManager(config_path=config)


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_a_config_others_can_write_is_refused_with_the_chmod(tmp_path: Path, mode: int) -> None:
    config = tmp_path / "config.toml"
    config.write_text('default_backend = "file"\n')
    os.chmod(config, mode)
    with pytest.raises(ConfigError, match=f"chmod go-w {config}"):
        SecureSecretsManager(config_path=config)


def test_a_read_only_shared_config_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('default_backend = "file"\n')
    os.chmod(config, 0o644)
    assert SecureSecretsManager(config_path=config).default_backend == "file"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_config_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('default_backend = "file"\n')
    os.chmod(config, 0o600)
    os.chown(config, 65534, 65534)  # nobody
    with pytest.raises(ConfigError, match="owned by uid 65534"):
        SecureSecretsManager(config_path=config)


@pytest.mark.parametrize("operation", ["store", "rotate"])
def test_a_symlinked_keyring_lock_is_a_typed_error(stored, tmp_path: Path, operation: str) -> None:
    lock = Path(str(stored.keyring_path) + ".lock")
    lock.unlink(missing_ok=True)
    lock.symlink_to(tmp_path / "elsewhere")
    manager = SecureSecretsManager()
    with pytest.raises(EncryptionError, match="is a symlink"):
        if operation == "rotate":
            manager.rotate_encryption_key()
        else:
            manager.store_secret("app/other", "value")
