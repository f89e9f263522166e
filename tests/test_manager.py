"""The manager end to end on the real default (file backend + fernet + keyfile + jsonl audit).

Every test runs in its own XDG home (root conftest's ``isolated_home``): the store is
``<XDG_DATA_HOME>/secure-secrets/store``, one file per secret, beside ``keyring.json`` and
``master.key``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    EncryptionError,
    IntegrityError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    KeyNotAvailableError,
    PluginNotFoundError,
    SecretAccessError,
    SecretNotFoundError,
    SecretsError,
)
from secure_secrets import AuditEvent, BackendType, SecureSecretsManager

CANARY = "CANARY-b7e1d2-must-never-be-shown"
VAULT_OPTIONS = {
    "vault_url": "https://vault.example.com",
    "vault_token": "s.TOKEN-CANARY-4411",
    "mount_point": "secret",
}


# --- helpers ---------------------------------------------------------------------------------


def data_dir(home: Path) -> Path:
    return home / "data" / "secure-secrets"


def store_dir(home: Path) -> Path:
    return data_dir(home) / "store"


SecretPath = Callable[[Path, str], Path]


@pytest.fixture
def secret_path(secret_file_name: Callable[[str], str]) -> SecretPath:
    """The record file of ``name`` in the default store under ``home``."""
    return lambda home, name: store_dir(home) / secret_file_name(name)


def keyring_doc(home: Path) -> dict:
    return json.loads((data_dir(home) / "keyring.json").read_text())


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with this test's environment (same XDG dirs)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_event(event: object, operation: str, name: str | None, backend: str | None) -> None:
    assert isinstance(event, AuditEvent)
    assert event.operation == operation
    assert event.backend == backend
    assert event.secret_name == name
    assert event.outcome == "success"
    assert event.error_type is None
    stamp = dt.datetime.fromisoformat(event.timestamp)
    assert stamp.utcoffset() == dt.timedelta(0)
    assert event.actor.user == getpass.getuser()
    assert event.actor.pid == os.getpid()
    assert event.actor.host == socket.gethostname()
    assert len(event.event_id) >= 16


def our_frame_locals(exc: BaseException) -> list[str]:
    """repr() of every local in our frames of the traceback, following the exception chain."""
    shown = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            filename = frame.f_code.co_filename
            if "secrets_core" in filename or "secure_secrets" in filename:
                shown += [repr(value) for value in frame.f_locals.values()]
        current = current.__cause__ or current.__context__
    return shown


def assert_no_canary(exc: BaseException, canary: str = CANARY) -> None:
    assert canary not in str(exc)
    assert canary not in repr(exc)
    assert canary not in "".join(traceback.format_exception(exc))


def flip(path: Path, index: int, mask: int = 0xFF) -> None:
    raw = bytearray(path.read_bytes())
    raw[index] ^= mask
    path.write_bytes(bytes(raw))


# --- the issue's contract --------------------------------------------------------------------


def test_issue_contract_verbatim(isolated_home: Path) -> None:
    from secure_secrets import BackendType, SecureSecretsManager
    from secure_secrets.exceptions import (
        BackendConfigurationError,  # noqa: F401 - part of the contract's import line
        EncryptionError,  # noqa: F401
        SecretAccessError,
    )

    before = dt.datetime.now(dt.timezone.utc)
    secrets_manager = SecureSecretsManager()
    api_key_event = secrets_manager.store_secret("bluefin_api_key", "your-secret-api-key-here")
    api_key = secrets_manager.retrieve_secret("bluefin_api_key")
    rotation_event = secrets_manager.rotate_encryption_key()
    delete_event = secrets_manager.delete_secret("bluefin_api_key")
    after = dt.datetime.now(dt.timezone.utc)

    assert api_key == "your-secret-api-key-here"
    assert_event(api_key_event, "store", "bluefin_api_key", "file")
    assert_event(rotation_event, "rotate", None, None)
    assert_event(delete_event, "delete", "bluefin_api_key", "file")
    assert rotation_event.details["backends"]["file"]["rotated"] == 1
    events = [api_key_event, rotation_event, delete_event]
    assert len({e.event_id for e in events}) == 3
    stamps = [dt.datetime.fromisoformat(e.timestamp) for e in events]
    assert before <= stamps[0] <= stamps[1] <= stamps[2] <= after
    with pytest.raises(SecretAccessError):
        secrets_manager.retrieve_secret("bluefin_api_key")

    vault_manager = SecureSecretsManager(
        default_backend=BackendType.VAULT,
        backends={
            BackendType.VAULT: {
                "vault_url": "https://vault.example.com",
                "vault_token": "...",
                "mount_point": "secret",
            }
        },
    )
    assert vault_manager.default_backend == "vault"
    # The default manager has no Vault configured: a typed error says what to set. (The seed
    # lines against a real server run in plugins/vault/tests.)
    with pytest.raises(BackendConfigurationError, match="VAULT_ADDR"):
        secrets_manager.store_secret("trading_credentials", "...", backend_type=BackendType.VAULT)
    with pytest.raises(BackendConfigurationError, match="VAULT_ADDR"):
        secrets_manager.retrieve_secret("trading_credentials", backend_type=BackendType.VAULT)


@pytest.mark.slow
def test_vault_manager_constructs_and_fails_without_touching_the_network() -> None:
    code = f"""
        import sys
        network = []
        def hook(event, args):
            # socket.gethostname is local (the audit actor's host); anything else is network.
            if event.startswith(("socket.", "http.")) and event != "socket.gethostname":
                network.append(event)
        sys.addaudithook(hook)
        from secure_secrets import SecureSecretsManager, BackendType
        from secrets_core.errors import BackendUnavailableError
        m = SecureSecretsManager(default_backend=BackendType.VAULT,
                                 backends={{BackendType.VAULT: {VAULT_OPTIONS!r}}})
        print("network:", network)  # constructing must not touch the network
        try:
            m.store_secret("trading_credentials", "{CANARY}", backend_type=BackendType.VAULT)
        except BackendUnavailableError as exc:  # no server here: cannot connect
            assert "{CANARY}" not in str(exc) and "TOKEN-CANARY" not in str(exc)
        else:
            raise SystemExit("store on vault did not raise")
        """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "network: []" in result.stdout


def test_vault_errors_do_not_carry_the_token_or_value() -> None:
    manager = SecureSecretsManager(
        default_backend=BackendType.VAULT, backends={BackendType.VAULT: VAULT_OPTIONS}
    )
    with pytest.raises(BackendUnavailableError) as info:
        manager.store_secret("trading_credentials", CANARY)
    assert_no_canary(info.value)
    assert_no_canary(info.value, "TOKEN-CANARY")
    for shown in our_frame_locals(info.value):
        assert CANARY not in shown


def test_file_backend_works_when_the_default_vault_is_unavailable() -> None:
    manager = SecureSecretsManager(
        default_backend=BackendType.VAULT, backends={BackendType.VAULT: VAULT_OPTIONS}
    )
    manager.store_secret("local_only", "v", backend_type=BackendType.FILE)
    assert manager.retrieve_secret("local_only", backend_type="file") == "v"


# --- values ----------------------------------------------------------------------------------

ROUND_TRIP_VALUES = [
    pytest.param("your-secret-api-key-here", id="ascii"),
    pytest.param("pässwörd ✓ 🔑 日本語", id="unicode"),
    pytest.param("nul\x00inside\nnewline", id="nul-in-str"),
    pytest.param("", id="empty-str"),
    pytest.param(b"", id="empty-bytes"),
    pytest.param(bytes(range(256)) * 4, id="binary"),
    pytest.param(b"\xff\xfe not utf-8 \x80", id="invalid-utf8-bytes"),
    pytest.param(os.urandom(1 << 20), id="1MiB-bytes"),
    pytest.param("é" * (1 << 19), id="1MiB-str"),
]


@pytest.mark.slow
@pytest.mark.parametrize("value", ROUND_TRIP_VALUES)
def test_values_round_trip_with_their_type(value: str | bytes) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("v", value)
    back = manager.retrieve_secret("v")
    assert type(back) is type(value)
    assert back == value
    # A second manager (no shared cache) reads the same value and type.
    again = SecureSecretsManager().retrieve_secret("v")
    assert type(again) is type(value) and again == value


def test_stored_file_does_not_contain_the_plaintext(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("canary", CANARY)
    manager.store_secret("canary_bytes", CANARY.encode())
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_bytearray_and_memoryview_are_stored_as_bytes() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("ba", bytearray(b"abc"))
    manager.store_secret("mv", memoryview(b"def"))
    assert manager.retrieve_secret("ba") == b"abc"
    assert manager.retrieve_secret("mv") == b"def"


def test_overwrite_replaces_value_and_type() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("k", "first")
    manager.store_secret("k", b"second")
    assert manager.retrieve_secret("k") == b"second"
    manager.store_secret("k", "third")
    assert manager.retrieve_secret("k") == "third"
    assert manager.list_secrets() == ["k"]


@pytest.mark.parametrize(
    "bad", [None, 1, 1.5, True, [CANARY], {"k": CANARY}, object()], ids=lambda v: type(v).__name__
)
def test_bad_value_types_are_rejected_and_nothing_is_stored(bad: object) -> None:
    manager = SecureSecretsManager()
    with pytest.raises(InvalidSecretValueError) as info:
        manager.store_secret("k", bad)  # type: ignore[arg-type]
    assert_no_canary(info.value)
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("k")


# --- names -----------------------------------------------------------------------------------

BAD_NAMES = [
    pytest.param("../x", id="traversal"),
    pytest.param("a/../b", id="inner-traversal"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("", id="empty"),
    pytest.param("n" * 129, id="too-long"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param(42, id="int"),
]


@pytest.mark.slow
@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("operation", ["store", "retrieve", "delete"])
def test_bad_names_raise_and_touch_nothing(
    isolated_home: Path, operation: str, bad: object
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("existing", "v")
    before = sorted(p.name for p in store_dir(isolated_home).iterdir())
    call = {
        "store": lambda: manager.store_secret(bad, "v"),  # type: ignore[arg-type]
        "retrieve": lambda: manager.retrieve_secret(bad),  # type: ignore[arg-type]
        "delete": lambda: manager.delete_secret(bad),  # type: ignore[arg-type]
    }[operation]
    with pytest.raises(InvalidSecretNameError):
        call()
    assert sorted(p.name for p in store_dir(isolated_home).iterdir()) == before
    assert not (isolated_home / "etc").exists()
    assert manager.retrieve_secret("existing") == "v"


@pytest.mark.parametrize("bad", [f"../{CANARY}", f"{CANARY}\x00", "/" + CANARY, CANARY * 5])
def test_rejected_name_is_not_echoed(bad: str) -> None:
    with pytest.raises(InvalidSecretNameError) as info:
        SecureSecretsManager().store_secret(bad, "value")
    assert_no_canary(info.value)


@pytest.mark.parametrize("operation", ["store", "retrieve", "delete"])
def test_none_is_not_a_valid_name(isolated_home: Path, operation: str) -> None:
    manager = SecureSecretsManager()
    with pytest.raises(InvalidSecretNameError):
        if operation == "store":
            manager.store_secret(None, "v")  # type: ignore[arg-type]
        elif operation == "retrieve":
            manager.retrieve_secret(None)  # type: ignore[arg-type]
        else:
            manager.delete_secret(None)  # type: ignore[arg-type]
    assert not list(store_dir(isolated_home).glob("*.secret"))


# --- not found -------------------------------------------------------------------------------


def test_missing_secret_raises_not_found_which_is_a_key_error() -> None:
    manager = SecureSecretsManager()
    with pytest.raises(KeyError) as info:
        manager.retrieve_secret("nope")
    exc = info.value
    assert isinstance(exc, SecretNotFoundError)
    assert isinstance(exc, SecretAccessError)
    assert str(exc) == exc.args[0]  # the plain message, not KeyError's quoted repr
    assert not str(exc).startswith(("'", '"'))
    assert "nope" in str(exc)
    with pytest.raises(SecretNotFoundError):
        manager.delete_secret("nope")


def test_delete_removes_the_secret_and_its_file(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("gone", "v")
    assert secret_path(isolated_home, "gone").exists()
    event = manager.delete_secret("gone")
    assert_event(event, "delete", "gone", "file")
    assert not secret_path(isolated_home, "gone").exists()
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("gone")
    assert manager.list_secrets() == []


# --- integrity -------------------------------------------------------------------------------


def test_swapped_files_are_detected(isolated_home: Path, secret_path: SecretPath) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("alpha", "alpha-" + CANARY)
    manager.store_secret("beta", "beta-" + CANARY)
    a, b = secret_path(isolated_home, "alpha"), secret_path(isolated_home, "beta")
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    for name in ("alpha", "beta"):
        with pytest.raises(IntegrityError) as info:
            manager.retrieve_secret(name)
        assert isinstance(info.value, EncryptionError)
        assert_no_canary(info.value)
    # A fresh manager (cold caches) detects it the same way.
    with pytest.raises(IntegrityError):
        SecureSecretsManager().retrieve_secret("alpha")


def test_copied_file_is_detected(isolated_home: Path, secret_path: SecretPath) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("alpha", "a")
    manager.store_secret("beta", "b")
    secret_path(isolated_home, "beta").write_bytes(secret_path(isolated_home, "alpha").read_bytes())
    with pytest.raises(IntegrityError):
        manager.retrieve_secret("beta")
    assert manager.retrieve_secret("alpha") == "a"


def test_swapped_files_leave_no_plaintext_in_traceback_locals(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("alpha", "alpha-" + CANARY)
    manager.store_secret("beta", "beta-" + CANARY)
    secret_path(isolated_home, "alpha").write_bytes(secret_path(isolated_home, "beta").read_bytes())
    with pytest.raises(IntegrityError) as info:
        manager.retrieve_secret("alpha")
    for shown in our_frame_locals(info.value):
        assert CANARY not in shown


@pytest.mark.slow
def test_every_flipped_byte_is_detected(isolated_home: Path, secret_path: SecretPath) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("t", "tamper-me")
    path = secret_path(isolated_home, "t")
    original = path.read_bytes()
    for index in range(len(original)):
        path.write_bytes(original)
        flip(path, index, 0xFF)
        with pytest.raises(IntegrityError):
            manager.retrieve_secret("t")
        # A single-bit flip may turn the key id into another well-formed id: still refused.
        path.write_bytes(original)
        flip(path, index, 0x01)
        with pytest.raises(EncryptionError):
            manager.retrieve_secret("t")
    path.write_bytes(original)
    assert manager.retrieve_secret("t") == "tamper-me"


@pytest.mark.slow
@pytest.mark.parametrize("keep", [0, 5, 20, -1], ids=["empty", "header", "prefix", "minus-one"])
def test_truncated_file_raises_and_is_never_read_as_empty(
    isolated_home: Path, keep: int, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("t", "value")
    path = secret_path(isolated_home, "t")
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(IntegrityError):
        manager.retrieve_secret("t")


def test_symlinked_secret_file_is_not_followed(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("real", "r")
    manager.store_secret("link", "l")
    link = secret_path(isolated_home, "link")
    link.unlink()
    link.symlink_to(secret_path(isolated_home, "real"))
    with pytest.raises(SecretsError):
        manager.retrieve_secret("link")


# --- backend_type ----------------------------------------------------------------------------


def test_backend_type_accepts_members_and_strings() -> None:
    manager = SecureSecretsManager()
    manager.store_secret("k", "v", backend_type=BackendType.FILE)
    assert manager.retrieve_secret("k", backend_type="file") == "v"
    assert manager.retrieve_secret("k", backend_type=BackendType.FILE) == "v"
    assert manager.list_secrets(backend_type="file") == ["k"]
    assert manager.list_secrets(backend_type=BackendType.FILE) == ["k"]
    event = manager.delete_secret("k", backend_type="file")
    assert event.backend == "file"
    assert isinstance(event.backend, str) and type(event.backend) is str


def test_unknown_backend_name_raises_plugin_not_found() -> None:
    manager = SecureSecretsManager()
    with pytest.raises(PluginNotFoundError, match="no-such-backend"):
        manager.store_secret("k", "v", backend_type="no-such-backend")
    assert isinstance(PluginNotFoundError("x"), BackendConfigurationError)


# --- rotation --------------------------------------------------------------------------------


@pytest.mark.slow
def test_rotate_reencrypts_every_secret(isolated_home: Path, secret_path: SecretPath) -> None:
    manager = SecureSecretsManager()
    values = {"a": "one", "b": b"two", "billing/c": "three ✓"}
    for name, value in values.items():
        manager.store_secret(name, value)
    reader = SecureSecretsManager()  # another instance with warm caches from before
    assert reader.retrieve_secret("a") == "one"
    old_primary = keyring_doc(isolated_home)["primary"]
    before = {name: secret_path(isolated_home, name).read_bytes() for name in values}

    progress: list[tuple[str, int, int]] = []
    event = manager.rotate_encryption_key(progress=lambda *args: progress.append(args))

    assert_event(event, "rotate", None, None)
    new_id = event.details["new_key_id"]
    assert new_id != old_primary
    assert keyring_doc(isolated_home)["primary"] == new_id
    assert event.details["backends"]["file"] == {"rotated": 3, "skipped": 0, "failed": 0}
    assert progress == [("file", 1, 3), ("file", 2, 3), ("file", 3, 3)]
    for name, value in values.items():
        after = secret_path(isolated_home, name).read_bytes()
        assert after != before[name]
        assert new_id.encode() in after and old_primary.encode() not in after
        assert manager.retrieve_secret(name) == value
        assert reader.retrieve_secret(name) == value
    # The other instance writes under the new primary key from now on.
    reader.store_secret("d", "four")
    assert new_id.encode() in secret_path(isolated_home, "d").read_bytes()

    result = run_python(
        """
        from secure_secrets import SecureSecretsManager
        m = SecureSecretsManager()
        print(repr([m.retrieve_secret(n) for n in ("a", "b", "billing/c", "d")]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(["one", b"two", "three ✓", "four"])


@pytest.mark.slow
def test_rotate_twice_counts_again_and_keeps_one_old_key_by_default(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", "1")
    manager.store_secret("b", "2")
    first = keyring_doc(isolated_home)["primary"]
    one = manager.rotate_encryption_key()
    two = manager.rotate_encryption_key()
    assert two.details["backends"]["file"]["rotated"] == 2
    ids = [k["id"] for k in keyring_doc(isolated_home)["keys"]]
    assert sorted(ids) == sorted([one.details["new_key_id"], two.details["new_key_id"]])
    assert first in two.details["retired_key_ids"]
    assert manager.retrieve_secret("a") == "1"


def test_rotate_on_an_empty_store() -> None:
    event = SecureSecretsManager().rotate_encryption_key()
    assert event.details["backends"]["file"] == {"rotated": 0, "skipped": 0, "failed": 0}


@pytest.mark.slow
def test_keep_old_keys_zero_retires_old_keys(isolated_home: Path, secret_path: SecretPath) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", "value-a")
    old_id = keyring_doc(isolated_home)["primary"]
    old_file = secret_path(isolated_home, "a").read_bytes()

    event = manager.rotate_encryption_key(keep_old_keys=0)

    assert event.details["retired_key_ids"] == [old_id]
    doc = keyring_doc(isolated_home)
    assert [k["id"] for k in doc["keys"]] == [event.details["new_key_id"]]
    assert manager.retrieve_secret("a") == "value-a"
    # A pre-rotation copy of the file (a restored backup, a rollback) no longer opens.
    secret_path(isolated_home, "a").write_bytes(old_file)
    with pytest.raises(KeyNotAvailableError):
        manager.retrieve_secret("a")
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("a")


def test_corrupt_secret_aborts_rotation_and_keeps_old_keys(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("aaa_good", "good")
    manager.store_secret("zzz_corrupt", "bad")
    old_id = keyring_doc(isolated_home)["primary"]
    path = secret_path(isolated_home, "zzz_corrupt")
    flip(path, len(path.read_bytes()) - 3)

    with pytest.raises(IntegrityError) as info:
        manager.rotate_encryption_key(keep_old_keys=0)

    assert "zzz_corrupt" in str(info.value)
    assert old_id in [k["id"] for k in keyring_doc(isolated_home)["keys"]]
    assert manager.retrieve_secret("aaa_good") == "good"
    assert SecureSecretsManager().retrieve_secret("aaa_good") == "good"


# --- keys on disk ----------------------------------------------------------------------------


def test_deleted_master_key_raises_and_never_creates_a_new_key(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    SecureSecretsManager().store_secret("a", "v")
    keyring = data_dir(isolated_home) / "keyring.json"
    keyring_bytes = keyring.read_bytes()
    (data_dir(isolated_home) / "master.key").unlink()

    manager = SecureSecretsManager()
    with pytest.raises(KeyNotAvailableError, match="master.key"):
        manager.store_secret("b", "w")
    with pytest.raises(KeyNotAvailableError):
        manager.retrieve_secret("a")
    with pytest.raises(KeyNotAvailableError):
        manager.rotate_encryption_key()

    assert not (data_dir(isolated_home) / "master.key").exists()
    assert keyring.read_bytes() == keyring_bytes
    assert not secret_path(isolated_home, "b").exists()


def test_world_readable_master_key_is_refused(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("a", "v")
    key_file = data_dir(isolated_home) / "master.key"
    key_bytes = key_file.read_bytes().strip()
    key_file.chmod(0o644)
    with pytest.raises(KeyNotAvailableError, match="chmod 600") as info:
        SecureSecretsManager().retrieve_secret("a")
    assert key_bytes.decode() not in str(info.value)
    key_file.chmod(0o600)
    assert SecureSecretsManager().retrieve_secret("a") == "v"


def test_deleted_keyring_with_stored_secrets_raises_on_store(
    isolated_home: Path, secret_path: SecretPath
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("a", "v")
    keyring = data_dir(isolated_home) / "keyring.json"
    keyring.unlink()

    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().store_secret("b", "w")
    with pytest.raises(KeyNotAvailableError):
        manager.store_secret("b", "w")  # the instance that had it loaded notices too
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("a")
    assert not keyring.exists()
    assert not secret_path(isolated_home, "b").exists()


def test_deleted_keyring_is_not_recreated_by_rotation(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("a", "v")
    keyring = data_dir(isolated_home) / "keyring.json"
    keyring.unlink()
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().rotate_encryption_key()
    assert not keyring.exists()


def test_corrupt_keyring_raises_integrity_error(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("a", "v")
    (data_dir(isolated_home) / "keyring.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="keyring"):
        SecureSecretsManager().retrieve_secret("a")


# --- processes -------------------------------------------------------------------------------


@pytest.mark.slow
def test_another_process_reads_what_this_one_stored() -> None:
    SecureSecretsManager().store_secret("shared/text", "from parent ✓")
    SecureSecretsManager().store_secret("shared/bin", b"\x00\x01parent")
    result = run_python(
        """
        from secure_secrets import SecureSecretsManager
        m = SecureSecretsManager()
        print(repr(m.retrieve_secret("shared/text")))
        print(repr(m.retrieve_secret("shared/bin")))
        m.store_secret("shared/child", b"from child")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [repr("from parent ✓"), repr(b"\x00\x01parent")]
    assert SecureSecretsManager().retrieve_secret("shared/child") == b"from child"


# --- listing ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_list_secrets_with_prefix() -> None:
    manager = SecureSecretsManager()
    assert manager.list_secrets() == []
    for name in ("billing/stripe", "billing/paypal", "billingx", "ops/db", "Billing/upper"):
        manager.store_secret(name, "v")
    assert manager.list_secrets() == sorted(
        ["Billing/upper", "billing/paypal", "billing/stripe", "billingx", "ops/db"]
    )
    assert manager.list_secrets("billing/") == ["billing/paypal", "billing/stripe"]
    assert manager.list_secrets("billing") == ["billing/paypal", "billing/stripe", "billingx"]
    assert manager.list_secrets("ops/") == ["ops/db"]
    assert manager.list_secrets("nothing/") == []
    manager.delete_secret("ops/db")
    assert manager.list_secrets("ops/") == []
    with pytest.raises(InvalidSecretNameError):
        manager.list_secrets("../")


def test_manager_repr_and_context_manager() -> None:
    with SecureSecretsManager() as manager:
        manager.store_secret("k", CANARY)
        assert CANARY not in repr(manager)
    # Closed managers reopen what they need.
    assert manager.retrieve_secret("k") == CANARY
