"""Rotation survives SIGKILL at every phase and at random times, and resumes.

After each kill every secret must still decrypt with the keys on disk, and the next rotation
must resume the journaled one (same target key), complete, and leave every secret under it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secrets_core.keys import envelope
from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

CHILD = Path(__file__).parent / "helpers" / "rotation_child.py"
COUNT = 60


def expected(i: int) -> str | bytes:
    return f"value-{i}-é" if i % 2 else os.urandom(0) + f"bytes-{i}".encode()


@pytest.fixture
def populated() -> dict[str, str | bytes]:
    manager = SecureSecretsManager()
    values = {f"app/secret_{i:03d}": expected(i) for i in range(COUNT)}
    for name, value in values.items():
        manager.store_secret(name, value)
    return values


def keyring_doc(home: Path) -> dict:
    return json.loads((home / "data" / "secure-secrets" / "keyring.json").read_text())


def run_child(phase: str, *args: str, keep: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, ROTATE_KEEP=str(keep))
    return subprocess.run(
        [sys.executable, str(CHILD), phase, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_all_readable(values: dict[str, str | bytes]) -> None:
    manager = SecureSecretsManager()  # a fresh process view: keys only from disk
    for name, value in values.items():
        assert manager.retrieve_secret(name) == value, name


def stored_key_ids() -> set[str]:
    """The data key id of every stored secret, read through the backend (format-agnostic)."""
    backend = SecureSecretsManager().backend()
    return {envelope.key_id_of(backend.read(name), name) for name in backend.list_names()}


def resume_and_check(values: dict[str, str | bytes], home: Path, target: str | None) -> None:
    event = SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    if target is not None:
        assert event.details["resumed"] is True
        assert event.details["new_key_id"] == target, "the resumed rotation must keep its target"
    doc = keyring_doc(home)
    assert "rotation" not in doc, "a completed rotation closes its journal"
    assert [k["id"] for k in doc["keys"]] == [doc["primary"]], "old keys are retired"
    assert stored_key_ids() == {doc["primary"]}, "every secret is under the new key"
    assert_all_readable(values)
    assert not list((home / "data" / "secure-secrets" / "store").glob(".*.tmp"))


@pytest.mark.parametrize(
    "phase, args",
    [
        ("after_journal", ()),
        ("mid_reencrypt", ("1",)),
        ("mid_reencrypt", (str(COUNT // 2),)),
        ("mid_reencrypt", (str(COUNT),)),
        ("before_retire", ()),
    ],
)
def test_sigkill_at_each_phase_loses_nothing_and_resumes(
    populated, isolated_home, phase, args
) -> None:
    result = run_child(phase, *args)
    assert result.returncode == -signal.SIGKILL, result.stderr
    doc = keyring_doc(isolated_home)
    target = doc["rotation"]["target"]
    assert doc["primary"] == target
    assert_all_readable(populated)
    resume_and_check(populated, isolated_home, target)


def test_sigkill_after_retiring_leaves_a_finished_rotation(populated, isolated_home) -> None:
    result = run_child("after_retire")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "rotation" not in keyring_doc(isolated_home)
    assert_all_readable(populated)
    resume_and_check(populated, isolated_home, None)


def test_sigkill_at_random_times(populated, isolated_home) -> None:
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    for _ in range(int(os.environ.get("CRASH_ITERATIONS", "8"))):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), "none"], env=dict(os.environ, ROTATE_KEEP="0")
        )
        time.sleep(rng.uniform(0.05, 0.6))  # import time, then anywhere in the rotation
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert_all_readable(populated)
    resume_and_check(populated, isolated_home, None)


def test_a_corrupt_secret_aborts_before_any_key_is_retired(
    populated, isolated_home, secret_file_name
) -> None:
    name = sorted(populated)[COUNT // 2]
    victim = isolated_home / "data" / "secure-secrets" / "store" / secret_file_name(name)
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0xFF
    victim.write_bytes(bytes(data))
    keys_before = {k["id"] for k in keyring_doc(isolated_home)["keys"]}
    with pytest.raises(Exception) as info:
        SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    assert type(info.value).__name__ == "IntegrityError"
    assert f"'{name}'" in str(info.value)
    assert keys_before <= {k["id"] for k in keyring_doc(isolated_home)["keys"]}, "nothing retired"


def test_concurrent_writer_loses_nothing(populated, isolated_home) -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from secure_secrets import SecureSecretsManager\n"
            "m = SecureSecretsManager()\n"
            "for i in range(150):\n"
            "    m.store_secret(f'writer/{i % 30}', f'w{i}')\n",
        ]
    )
    for _ in range(3):
        SecureSecretsManager().rotate_encryption_key()  # default: keep one old key
    assert writer.wait(timeout=120) == 0
    SecureSecretsManager().rotate_encryption_key()
    manager = SecureSecretsManager()
    for i in range(120, 150):
        assert manager.retrieve_secret(f"writer/{i % 30}") == f"w{i}"
    assert_all_readable(populated)


def test_progress_is_reported(populated) -> None:
    seen: list[tuple[str, int, int]] = []
    event = SecureSecretsManager().rotate_encryption_key(progress=lambda *p: seen.append(p))
    assert seen[-1] == ("file", COUNT, COUNT) and len(seen) == COUNT
    assert event.details["backends"]["file"] == {"rotated": COUNT, "skipped": 0, "failed": 0}


# --- two stores sharing the keyring: the zero-config file store and an env file ---------------

ENV_COUNT = 12


@pytest.fixture
def two_stores(isolated_home) -> dict[tuple[str, str], str | bytes]:
    """The file store (zero-config) and an env file configured as the default backend."""
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    env_file = isolated_home / "app.env"
    config.write_text(f'default_backend = "env"\n[backends.env]\nenv_file = "{env_file}"\n')
    values: dict[tuple[str, str], str | bytes] = {}
    manager = SecureSecretsManager()
    for i in range(COUNT):
        values["file", f"app/secret_{i:03d}"] = expected(i)
    for i in range(ENV_COUNT):
        values["env", f"env/secret_{i:03d}"] = f"env-value-{i}"
    for (backend, name), value in values.items():
        manager.store_secret(name, value, backend_type=backend)
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]  # read from the env file, as the child process does
    return values


def assert_both_readable(values: dict[tuple[str, str], str | bytes]) -> None:
    manager = SecureSecretsManager()
    for (backend, name), value in values.items():
        assert manager.retrieve_secret(name, backend_type=backend) == value, (backend, name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "phase, args",
    [
        ("after_journal", ()),
        ("mid_reencrypt", (str(ENV_COUNT // 2), "env")),
        ("mid_reencrypt", (str(ENV_COUNT), "env")),
        ("mid_reencrypt", ("1", "file")),
        ("mid_reencrypt", (str(COUNT), "file")),
        ("before_retire", ()),
        ("after_retire", ()),
    ],
)
def test_two_stores_sharing_the_keyring_survive_sigkill_at_each_phase(
    two_stores, isolated_home, phase, args
) -> None:
    result = run_child(phase, *args)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert_both_readable(two_stores)
    event = SecureSecretsManager().rotate_encryption_key(keep_old_keys=0)
    assert event.details["resumed"] is (phase != "after_retire")
    doc = keyring_doc(isolated_home)
    assert [k["id"] for k in doc["keys"]] == [doc["primary"]], "old keys are retired"
    assert {entry["backend"] for entry in doc["stores"]} == {"file", "env"}
    assert stored_key_ids() == {doc["primary"]}
    manager = SecureSecretsManager()
    for (backend, name), _value in two_stores.items():
        token = manager.read_stored(name, backend_type=backend)
        assert envelope.key_id_of(token, name) == doc["primary"], (backend, name)
    assert_both_readable(two_stores)
