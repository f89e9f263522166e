"""The os-keyring key source against a real keyring backend that works headless:
keyrings.alt's file backend (a file under XDG_DATA_HOME, which the repository's conftest
points at a temp dir)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

keyrings_alt_file = pytest.importorskip(
    "keyrings.alt.file",
    reason="needs keyrings.alt (pip install keyrings.alt) for a headless keyring backend",
)

import keyring  # noqa: E402
from secure_secrets_keyring import plugin  # noqa: E402
from secure_secrets_keyring.source import OsKeyringSource  # noqa: E402

from secrets_core.config import resolve_options  # noqa: E402
from secrets_core.errors import ConfigError, KeyNotAvailableError  # noqa: E402
from secrets_core.plugin import KeySource, PluginContext  # noqa: E402
from secrets_core.testing import KeySourceContract  # noqa: E402
from secure_secrets import SecureSecretsManager  # noqa: E402

FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"


def make(tmp_path: Path, **options: object) -> OsKeyringSource:
    spec = plugin.secrets_register_key_sources()[0]
    resolved = resolve_options(spec.options, options, "[key_source]")
    source = spec.make(resolved, PluginContext(tmp_path / "data", tmp_path / "log"))
    assert isinstance(source, OsKeyringSource)
    return source


def keyring_file(home: Path) -> Path:
    return home / "data" / "python_keyring" / "keyring_pass.cfg"


def read_back(file: Path, service: str, username: str) -> str | None:
    """What a fresh file backend reads from ``file`` (the value is encoded on disk)."""
    backend = keyrings_alt_file.PlaintextKeyring()
    backend.file_path = str(file)
    return backend.get_password(service, username)


@pytest.fixture
def default_keyring(tmp_path: Path) -> Iterator[Path]:
    """keyring's process-wide default set to a file backend under tmp_path."""
    previous = keyring.get_keyring()
    backend = keyrings_alt_file.PlaintextKeyring()
    backend.file_path = str(tmp_path / "default-keyring.cfg")
    keyring.set_keyring(backend)
    yield Path(backend.file_path)
    keyring.set_keyring(previous)


def test_create_then_load_returns_the_same_random_key(tmp_path: Path, isolated_home: Path) -> None:
    source = make(tmp_path, backend=FILE_BACKEND)
    assert isinstance(source, KeySource)
    key, params = source.create_kek(32)
    assert len(key) == 32 and params == {
        "service": "secure-secrets",
        "username": "key-encryption-key",
    }
    assert make(tmp_path, backend=FILE_BACKEND).load_kek(params, 32) == key
    other_key, _ = make(tmp_path, backend=FILE_BACKEND, username="other").create_kek(32)
    assert other_key != key, "each entry gets its own random key"
    stored = read_back(keyring_file(isolated_home), "secure-secrets", "key-encryption-key")
    assert stored == base64.b64encode(key).decode(), "the key lives in the keyring's file"


def test_create_reuses_an_existing_key_instead_of_overwriting(tmp_path: Path) -> None:
    first, _ = make(tmp_path, backend=FILE_BACKEND).create_kek(32)
    second, _ = make(tmp_path, backend=FILE_BACKEND).create_kek(32)
    assert first == second


def test_missing_entry_says_what_to_do(tmp_path: Path) -> None:
    source = make(tmp_path, backend=FILE_BACKEND, service="never-created")
    with pytest.raises(KeyNotAvailableError, match="keyring set never-created") as info:
        source.load_kek({}, 32)
    assert "backup" in str(info.value)


def test_wrong_length_and_garbage_entries_raise(tmp_path: Path) -> None:
    source = make(tmp_path, backend=FILE_BACKEND)
    source.keyring.set_password("secure-secrets", "key-encryption-key", "bm90IGEga2V5")
    with pytest.raises(KeyNotAvailableError, match="9-byte key"):
        source.load_kek({}, 32)
    source.keyring.set_password("secure-secrets", "key-encryption-key", "***")
    with pytest.raises(KeyNotAvailableError, match="base64"):
        source.load_kek({}, 32)


def test_the_default_keyring_is_used_without_the_backend_option(
    tmp_path: Path, default_keyring: Path
) -> None:
    key, _ = make(tmp_path).create_kek(32)
    stored = read_back(default_keyring, "secure-secrets", "key-encryption-key")
    assert stored == base64.b64encode(key).decode()


def test_a_failing_keyring_becomes_key_not_available_without_its_message(
    tmp_path: Path,
) -> None:
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(KeyNotAvailableError, match="no OS keyring is available") as info:
            make(tmp_path).load_kek({}, 32)
    finally:
        keyring.set_keyring(previous)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_backend_option_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no_such_keyring_pkg"):
        make(tmp_path, backend="no_such_keyring_pkg.Backend")


@pytest.mark.slow
def test_manager_end_to_end_and_a_second_process(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "store"}"
            [key_source]
            name = "os-keyring"
            service = "secure-secrets-test"
            backend = "{FILE_BACKEND}"
            """
        )
    )
    manager = SecureSecretsManager(config_path=config)
    manager.store_secret("app/token", "t0ken-value")
    assert manager.retrieve_secret("app/token") == "t0ken-value"
    manager.rotate_encryption_key()
    manager.close()
    assert not (tmp_path / "store" / "master.key").exists(), "no key file: the KEK is in keyring"

    code = (
        "from secure_secrets import SecureSecretsManager;"
        f"print(SecureSecretsManager(config_path={str(config)!r}).retrieve_secret('app/token'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "t0ken-value"

    keyring_file(isolated_home).unlink()  # the keyring entry is lost
    with pytest.raises(KeyNotAvailableError, match="keyring set secure-secrets-test"):
        SecureSecretsManager(config_path=config).retrieve_secret("app/token")


@pytest.mark.slow
def test_env_var_selects_the_backend_in_a_fresh_process(isolated_home: Path) -> None:
    code = textwrap.dedent(
        """
        from pathlib import Path
        from secrets_core.plugin import PluginContext
        from secure_secrets_keyring import plugin
        spec = plugin.secrets_register_key_sources()[0]
        opts = {"service": "env-selected", "username": "kek", "backend": None}
        source = spec.make(opts, PluginContext(Path("."), Path(".")))
        key, params = source.create_kek(32)
        assert source.load_kek(params, 32) == key
        print(type(source.keyring).__name__)
        """
    )
    env = dict(os.environ, PYTHON_KEYRING_BACKEND=FILE_BACKEND)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PlaintextKeyring"
    assert read_back(keyring_file(isolated_home), "env-selected", "kek") is not None


@pytest.mark.slow
def test_registering_does_not_import_keyring() -> None:
    code = (
        "import sys; from secure_secrets_keyring import plugin;"
        "plugin.secrets_register_key_sources(); assert 'keyring' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_backend_errors_are_converted_without_their_details(tmp_path: Path) -> None:
    """A backend failing the way a locked Secret Service collection does: the D-Bus detail
    (here a marker string) must not reach the message or the traceback chain."""
    from keyring.backend import KeyringBackend

    class LockedCollection(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            raise keyring.errors.KeyringError("org.freedesktop.Secret locked: DETAIL-7781")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.PasswordSetError("DETAIL-7781")

        def delete_password(self, service: str, username: str) -> None:
            raise keyring.errors.PasswordDeleteError("DETAIL-7781")

    previous = keyring.get_keyring()
    keyring.set_keyring(LockedCollection())
    try:
        for call in (lambda s: s.load_kek({}, 32), lambda s: s.create_kek(32)):
            with pytest.raises(KeyNotAvailableError, match="unlock the keyring") as info:
                call(make(tmp_path))
            assert "DETAIL-7781" not in str(info.value)
            assert info.value.__cause__ is None and info.value.__suppress_context__
    finally:
        keyring.set_keyring(previous)


class TestOsKeyringContract(KeySourceContract):
    CREATES_NEW_KEYS = False  # reuses a key already in the OS keyring
    """The kit's key-source contract against the real keyrings.alt file backend."""

    @pytest.fixture
    def key_source(self, tmp_path: Path) -> OsKeyringSource:
        return make(tmp_path, backend=FILE_BACKEND)
