"""SIGKILL at random points of store, delete and rotation, hundreds of times, on the file
backend, the env backend with an env file, and (store) Vault on a real OpenBao server.

Each iteration forks one worker from a pre-imported zygote (tests/helpers/crash_child.py),
lets it loop random operations and kills it with SIGKILL after a random delay. The worker
writes ``B ...`` before and ``A ...`` after every call, so after each kill the test knows the
acknowledged state of every secret and the one call that may have been in flight. Then, from
a fresh manager (keys and values only from disk):

* every secret reads as its acknowledged value, or as the in-flight call's result;
* the listing matches; no temporary file is left in the store once it is opened again;
* the audit log verifies (HMAC chain and checkpoint) up to the crash;
* at the end, a rotation completes (resuming one a kill interrupted) and every value reads.

``CRASH_SUITE_ITERATIONS`` (default 210) is the total number of kills over the three
backends; ``CRASH_SUITE_SEED`` picks the random schedule (printed on failure).

Also here: temp files of killed keyring and env-file writes; an audit line torn by a full
disk; writers in several processes racing a rotating process; a rotation paused mid-way
while another process stores; a store paused between sealing and writing while another
process rotates twice (the rotation must wait for it); and killed lock holders.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secrets_core.errors import SecretNotFoundError
from secrets_core.keys import envelope
from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
CHILD = HERE / "helpers" / "crash_child.py"
_spec = importlib.util.spec_from_file_location("crash_child", CHILD)
assert _spec is not None and _spec.loader is not None
crash_child = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crash_child)
value_for = crash_child.value_for

TOTAL = int(os.environ.get("CRASH_SUITE_ITERATIONS", "210"))
SEED = int(os.environ.get("CRASH_SUITE_SEED", "20261129"))
SHARE = {"file": 0.45, "env": 0.35, "vault": 0.20}
NAMES = ["app/db", "app/api.key", "svc/a", "svc/b/c-1", "x", "k_7"]
MISSING = None  # model value of a deleted / never stored secret


def iterations(backend: str) -> int:
    return max(1, round(TOTAL * SHARE[backend]))


def child_env() -> dict[str, str]:
    """The test's environment minus anything that would point the child elsewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_SECRET_", "VAULT_", "BAO_"))
    }


class Zygote:
    """The pre-imported parent of every worker; stopped by its PID at the end."""

    def __init__(self, config: dict, workdir: Path) -> None:
        self.stderr_path = workdir / "zygote.stderr"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(CHILD), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=child_env(),
            )

    def command(self, *args: object) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(map(str, args)) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer.startswith("exit "), f"zygote died: {self.stderr()}"
        return int(answer.split()[1])

    def stderr(self) -> str:
        return self.stderr_path.read_text()[-4000:]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


def read_acks(path: Path) -> list[list[str]]:
    """Complete lines only (a line without its newline was never fully written)."""
    if not path.exists():
        return []
    text = path.read_text()
    return [line.split() for line in text.split("\n")[:-1]]


class Model:
    """What each secret may read as: its acknowledged value id, or MISSING."""

    def __init__(self) -> None:
        self.state: dict[str, str | None] = dict.fromkeys(NAMES, MISSING)
        self.acked: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()

    def apply(self, acks: list[list[str]]) -> dict[str, set[str | None]]:
        pending: list[str] | None = None
        for kind, op, name, value_id in acks:
            if kind == "B":
                assert pending is None, "a call began before the previous one returned"
                pending = [op, name, value_id]
                continue
            assert pending is not None and pending[1] == name, (acks, kind, op, name)
            pending = None
            self.acked[op] += 1
            if op == "store":
                self.state[name] = value_id
            elif op == "delete":
                assert self.state[name] is not MISSING, f"{name} was deleted twice"
                self.state[name] = MISSING
            elif op == "missing":
                assert self.state[name] is MISSING, f"the worker found {name} missing: lost"
        allowed = {name: {value} for name, value in self.state.items()}
        if pending is not None:
            op, name, value_id = pending
            self.in_flight[op] += 1
            if op == "store":
                allowed[name].add(value_id)
            elif op == "delete":
                allowed[name].add(MISSING)
        return allowed


def observe(manager: SecureSecretsManager, name: str, allowed: set[str | None]) -> str | None:
    """Which allowed state ``name`` reads as; fails on anything else."""
    try:
        got = manager.retrieve_secret(name)
    except SecretNotFoundError:
        assert MISSING in allowed, f"{name} is gone, expected one of {allowed}"
        return MISSING
    for value_id in allowed - {MISSING}:
        expected = value_for(name, value_id)
        if type(got) is type(expected) and got == expected:
            return value_id
    raise AssertionError(f"{name} reads as a value that is neither old nor new: {allowed}")


def crash_loop(
    config: dict,
    workdir: Path,
    count: int,
    temp_dirs: list[Path],
) -> Model:
    """Seed every name, then ``count`` times: fork a worker, SIGKILL it at a random moment,
    check what a fresh process sees."""
    rng = random.Random(f"{SEED}-{config['backend']}")
    delay_range = config.pop("delay_ms")
    model = Model()
    zygote = Zygote(config, workdir)
    try:
        seed_acks = workdir / "acks-seed"
        assert zygote.command("seed", seed_acks) == 0, zygote.stderr()
        model.apply(read_acks(seed_acks))
        for iteration in range(count):
            acks = workdir / f"acks-{iteration}"
            # Mostly short, so kills land inside calls; sometimes long enough for a whole
            # rotation to finish on a slow machine.
            delay = rng.randint(*delay_range) if rng.random() < 0.85 else rng.randint(60, 400)
            status = zygote.command("crash", acks, rng.randrange(1 << 30), delay)
            context = f"iteration {iteration}, delay {delay} ms, CRASH_SUITE_SEED={SEED}"
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"{context}: the worker ended on its own ({status}): {zygote.stderr()}"
            )
            allowed = model.apply(read_acks(acks))
            manager = crash_child.open_manager(config)
            try:
                for name in NAMES:
                    model.state[name] = observe(manager, name, allowed[name])
                present = sorted(n for n, v in model.state.items() if v is not MISSING)
                assert manager.list_secrets() == present, context
                for directory in temp_dirs:
                    assert not list(directory.glob(".*.tmp")), f"{context}: temp file left"
                verification = manager.verify_audit_log()
                assert verification.ok, (context, verification)
            finally:
                manager.close()
    finally:
        zygote.close()
    return model


def finish_and_check(config: dict, model: Model) -> SecureSecretsManager:
    manager = crash_child.open_manager(config)
    manager.rotate_encryption_key(keep_old_keys=0)  # resumes a rotation a kill interrupted
    assert manager.rotation_pending() is None
    for name, value_id in model.state.items():
        observe(manager, name, {value_id})
    assert manager.verify_audit_log().ok
    return manager


def assert_meaningful(model: Model, ops: set[str], count: int) -> None:
    """The kills must have landed inside calls, of every kind, for the test to mean much."""
    for op in ops:
        assert model.acked[op] > 0, f"no {op} ever completed: {model.acked}"
    assert sum(model.in_flight.values()) >= 0.5 * count, model.in_flight
    for op in ops:
        assert model.in_flight[op] > 0, f"no kill landed inside a {op}: {model.in_flight}"


def all_key_ids(manager: SecureSecretsManager) -> set[str]:
    return {envelope.key_id_of(manager.read_stored(name), name) for name in manager.list_secrets()}


@pytest.fixture
def data_dir(isolated_home: Path) -> Path:
    return isolated_home / "data" / "secure-secrets"


def test_sigkill_during_file_store_delete_and_rotation(tmp_path: Path, data_dir: Path) -> None:
    config = {
        "backend": "file",
        "data_dir": str(data_dir),
        "names": NAMES,
        "ops": {"store": 6, "delete": 2, "rotate": 1},
        "delay_ms": (0, 60),
    }
    model = crash_loop(dict(config), tmp_path, iterations("file"), [data_dir / "store"])
    assert_meaningful(model, {"store", "delete", "rotate"}, iterations("file"))
    manager = finish_and_check(config, model)
    assert all_key_ids(manager) == {manager.key_ids()[0]} == set(manager.key_ids())
    assert not list((data_dir / "store").glob(".*.tmp"))
    assert not list(data_dir.glob(".keyring.json.*.tmp")), "the next keyring write sweeps them"


def test_sigkill_during_env_file_store_delete_and_rotation(tmp_path: Path, data_dir: Path) -> None:
    env_file = tmp_path / "app" / "secrets.env"
    env_file.parent.mkdir(mode=0o700)
    env_file.write_text("# kept as written\nPLAIN=not-ours\n")
    config = {
        "backend": "env",
        "backends": {"env": {"env_file": str(env_file)}},
        "data_dir": str(data_dir),
        "names": NAMES,
        "ops": {"store": 6, "delete": 2, "rotate": 1},
        "delay_ms": (0, 60),
    }
    model = crash_loop(dict(config), tmp_path, iterations("env"), [])
    assert_meaningful(model, {"store", "delete", "rotate"}, iterations("env"))
    manager = finish_and_check(config, model)
    assert all_key_ids(manager) == set(manager.key_ids())
    manager.store_secret("final", "x")  # a write takes the env file's lock, which sweeps
    assert not list(env_file.parent.glob(".secrets.env.*.tmp"))
    assert not list(data_dir.glob(".keyring.json.*.tmp"))
    assert env_file.read_text().startswith("# kept as written\nPLAIN=not-ours\n")


# --- Vault: a real OpenBao dev server ------------------------------------------------------

_vault_spec = importlib.util.spec_from_file_location(
    "crash_suite_vault_conftest", HERE.parent / "plugins" / "vault" / "tests" / "conftest.py"
)
assert _vault_spec is not None and _vault_spec.loader is not None
vault_conftest = importlib.util.module_from_spec(_vault_spec)
sys.modules[_vault_spec.name] = vault_conftest  # dataclasses look their module up
_vault_spec.loader.exec_module(vault_conftest)


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A ``bao server -dev`` of our own (the Vault tests' helper), stopped by its PID."""
    server = vault_conftest.BaoServer(tmp_path_factory.mktemp("bao-crash")).start()
    try:
        yield server
    finally:
        server.stop()


def test_sigkill_during_vault_store(tmp_path: Path, data_dir: Path, bao) -> None:  # type: ignore[no-untyped-def]
    mount = f"crash-{uuid.uuid4().hex[:8]}"
    bao.admin().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    config = {
        "backend": "vault",
        "backends": {"vault": bao.options(mount_point=mount, max_retries=0)},
        "data_dir": str(data_dir),
        "names": NAMES,
        "ops": {"store": 1},
        "delay_ms": (0, 60),
    }
    # Vault encrypts at rest, so no data key is needed; the keyring holds the audit chain key.
    crash_child.open_manager(config).initialize_keys()
    model = crash_loop(dict(config), tmp_path, iterations("vault"), [])
    assert_meaningful(model, {"store"}, iterations("vault"))
    manager = crash_child.open_manager(config)
    for name, value_id in model.state.items():
        observe(manager, name, {value_id})
    versions = manager.secret_metadata("x").versions
    assert versions, "Vault kept the versions the workers wrote"


# --- temporary files of the keyring and the env file ------------------------------------------

DIE_AT_REPLACE = """
import os, signal, sys
from pathlib import Path
from secure_secrets import SecureSecretsManager

target = sys.argv[1]
real_replace = os.replace

def replace(src, dst, *args, **kwargs):
    if Path(dst).name == target:  # the temp file is written and fsynced: die before the rename
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace
backends = {"env": {"env_file": sys.argv[3]}} if sys.argv[3] else None
manager = SecureSecretsManager(default_backend=sys.argv[2], backends=backends)
if target == "keyring.json":
    manager.rotate_encryption_key()
else:
    manager.store_secret("app/db", "second")
"""


def die_at_replace(target: str, backend: str, env_file: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "-c", DIE_AT_REPLACE, target, backend, env_file],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_a_killed_keyring_write_leaves_no_temp_file_after_the_next_change(data_dir: Path) -> None:
    SecureSecretsManager().store_secret("app/db", "first")
    die_at_replace("keyring.json", "file")
    assert list(data_dir.glob(".keyring.json.*.tmp")), "the kill left a temp file"
    manager = SecureSecretsManager()
    assert manager.retrieve_secret("app/db") == "first"
    manager.rotate_encryption_key()  # resumes: the keyring is loaded and replaced again
    assert not list(data_dir.glob(".keyring.json.*.tmp"))


def test_a_killed_env_file_write_leaves_no_temp_file_after_the_next_change(tmp_path: Path) -> None:
    env_file = tmp_path / "app" / "secrets.env"
    backends = {"env": {"env_file": str(env_file)}}
    first = SecureSecretsManager(default_backend="env", backends=backends)
    first.store_secret("app/db", "first")
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]  # read back from the file, as another process would
    die_at_replace("secrets.env", "env", str(env_file))
    assert list(env_file.parent.glob(".secrets.env.*.tmp")), "the kill left a temp file"
    manager = SecureSecretsManager(default_backend="env", backends=backends)
    assert manager.retrieve_secret("app/db") == "first"
    manager.store_secret("app/other", "x")
    assert not list(env_file.parent.glob(".secrets.env.*.tmp"))


def test_a_torn_audit_line_is_reported_and_later_events_are_still_chained(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # monkeypatch is also isolated_home's: only undo our own patch
    """SIGKILL cannot tear a line (one ``write`` each), but a full disk can (a short write,
    then ENOSPC; simulated, as a disk cannot be filled on demand) and so can a power cut.
    Verification names the torn line; later events are still recorded and chained, and
    tampering after the torn line is still detected."""
    manager = SecureSecretsManager()
    for i in range(2):
        manager.store_secret(f"torn/s{i}", "v")
    real_write, state = os.write, {"step": 0}

    def disk_fills_mid_line(fd: int, data: bytes) -> int:
        if state["step"] == 0 and bytes(data).startswith(b'{"actor":'):
            state["step"] = 1
            return real_write(fd, bytes(data)[: len(data) // 2])
        if state["step"] == 1:
            state["step"] = 2
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", disk_fills_mid_line)
        manager.store_secret("torn/s2", "v")  # stored; the best-effort sink logs its failure
    assert state["step"] == 2
    log = isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    assert not log.read_bytes().endswith(b"\n"), "the disk cut the line short"
    verification = SecureSecretsManager().verify_audit_log()
    assert not verification.ok and verification.first_bad_line == 3, verification
    assert "incomplete" in (verification.problem or "")

    SecureSecretsManager().store_secret("torn/after", "v")
    lines = log.read_bytes().splitlines()
    assert b'"torn/after"' in lines[-1], "later events are recorded"
    verification = SecureSecretsManager().verify_audit_log()
    assert (verification.ok, verification.first_bad_line) == (False, 3), verification
    assert verification.events == verification.chained == 3, "every complete line verifies"
    log.write_bytes(b"\n".join([*lines[:-1], lines[-1].replace(b"torn/after", b"torn/AFTER")]))
    verification = SecureSecretsManager().verify_audit_log()
    assert verification.first_bad_line == 4 and "mac" in (verification.problem or "")


# --- concurrency: writers in several processes race a rotating process ------------------------

WRITER = """
import json, sys
sys.path.insert(0, sys.argv[3])
from crash_child import open_manager
config, worker = json.loads(sys.argv[1]), int(sys.argv[2])
manager = open_manager(config)
for i in range(int(config["writes"])):
    manager.store_secret(f"w{worker}/s{i % 8}", f"w{worker}-{i}")
    manager.store_secret(f"w{worker}/last", f"w{worker}-{i}")
"""
ROTATOR = """
import json, sys
sys.path.insert(0, sys.argv[2])
from crash_child import open_manager
config = json.loads(sys.argv[1])
manager = open_manager(config)
for _ in range(int(config["rotations"])):
    manager.rotate_encryption_key()  # back to back, keeping one old key (the default)
"""
WRITERS = 3


def race(config: dict) -> None:
    """Writers and one rotator as separate interpreters, all at once; then, from a fresh
    manager, every writer's last value of each name reads back, under one key."""
    helpers = str(CHILD.parent)
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(config), str(w), helpers])
        for w in range(WRITERS)
    ]
    processes.append(subprocess.Popen([sys.executable, "-c", ROTATOR, json.dumps(config), helpers]))
    try:
        assert [p.wait(timeout=180) for p in processes] == [0] * len(processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    manager = crash_child.open_manager(config)
    manager.rotate_encryption_key(keep_old_keys=0)
    writes = config["writes"]
    for w in range(WRITERS):
        assert manager.retrieve_secret(f"w{w}/last") == f"w{w}-{writes - 1}", "a write was lost"
        for s in range(8):
            last = max(i for i in range(writes) if i % 8 == s)
            assert manager.retrieve_secret(f"w{w}/s{s}") == f"w{w}-{last}", "a write was lost"
    assert all_key_ids(manager) == set(manager.key_ids())
    assert manager.verify_audit_log().ok


@pytest.mark.parametrize("backend", ["file", "env"])
def test_writers_in_three_processes_race_a_rotating_process(
    backend: str, data_dir: Path, tmp_path: Path
) -> None:
    config: dict = {"backend": backend, "data_dir": str(data_dir), "writes": 50, "rotations": 4}
    if backend == "env":
        config["backends"] = {"env": {"env_file": str(tmp_path / "secrets.env")}}
    crash_child.open_manager(config).store_secret("seed", "x")
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]
    race(config)


PAUSED_ROTATOR = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from crash_child import open_manager
from secrets_core.keys import envelope
config, flags = json.loads(sys.argv[1]), Path(sys.argv[3])
real_open = envelope.open_token

def open_token(cipher, token, name, *args, **kwargs):
    # Pause once, as the rotation re-seals race/x: holding its lock if the backend locks.
    if name == "race/x" and not (flags / "paused").exists():
        (flags / "paused").touch()
        deadline = time.monotonic() + 60
        while not (flags / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return real_open(cipher, token, name, *args, **kwargs)

envelope.open_token = open_token
open_manager(config).rotate_encryption_key()
"""
STORE_NEW = """
import json, sys
sys.path.insert(0, sys.argv[2])
from crash_child import open_manager
open_manager(json.loads(sys.argv[1])).store_secret("race/x", "new")
"""


@pytest.mark.parametrize("backend", ["file", "env"])
def test_rotation_does_not_overwrite_a_concurrent_write(
    backend: str, data_dir: Path, tmp_path: Path
) -> None:
    config: dict = {"backend": backend, "data_dir": str(data_dir)}
    if backend == "env":
        config["backends"] = {"env": {"env_file": str(tmp_path / "secrets.env")}}
    crash_child.open_manager(config).store_secret("race/x", "old")
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]
    helpers, flags = str(CHILD.parent), tmp_path
    rotator = subprocess.Popen(
        [sys.executable, "-c", PAUSED_ROTATOR, json.dumps(config), helpers, str(flags)],
        env=child_env(),
    )
    writer = None
    try:
        deadline = time.monotonic() + 60
        while not (flags / "paused").exists():
            assert rotator.poll() is None and time.monotonic() < deadline, "never paused"
            time.sleep(0.01)
        writer = subprocess.Popen(
            [sys.executable, "-c", STORE_NEW, json.dumps(config), helpers], env=child_env()
        )
        with contextlib.suppress(subprocess.TimeoutExpired):  # file: blocked on the lock
            writer.wait(timeout=2)
        (flags / "go").touch()
        assert rotator.wait(timeout=60) == 0
        assert writer.wait(timeout=60) == 0
    finally:
        for process in (rotator, writer):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert crash_child.open_manager(config).retrieve_secret("race/x") == "new"


STALE_WRITER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import pause_after_seal
from crash_child import open_manager
config = json.loads(sys.argv[1])
manager = open_manager(config)
pause_after_seal.install(Path(sys.argv[3]))  # sealed under the primary of now, then stalls
manager.store_secret("stale/x", "acknowledged")
"""


def test_a_write_sealed_before_two_rotations_is_not_lost(data_dir: Path, tmp_path: Path) -> None:
    config = {"backend": "file", "data_dir": str(data_dir)}
    crash_child.open_manager(config).store_secret("stale/x", "old")
    writer = subprocess.Popen(
        [sys.executable, "-c", STALE_WRITER, json.dumps(config), str(CHILD.parent), str(tmp_path)],
        env=child_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "sealed").exists():
            assert writer.poll() is None and time.monotonic() < deadline, "never sealed"
            time.sleep(0.01)
        errors: list[BaseException] = []

        def rotate_twice() -> None:  # keep_old_keys=1: the 2nd would retire the writer's key
            try:
                rotating = crash_child.open_manager(config)
                for _ in range(2):
                    rotating.rotate_encryption_key()
            except BaseException as exc:  # reported below
                errors.append(exc)

        rotations = threading.Thread(target=rotate_twice)
        rotations.start()
        rotations.join(timeout=1.5)  # a rotation waits for writes in flight to finish
        waited = rotations.is_alive()
        (tmp_path / "go").touch()
        assert writer.wait(timeout=60) == 0, "the store was acknowledged"
        rotations.join(timeout=60)
        assert not errors, errors
        assert waited, "the rotation did not wait for the write in flight"
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert crash_child.open_manager(config).retrieve_secret("stale/x") == "acknowledged"


# --- the lock holder killed: nobody deadlocks ---------------------------------------------------

HOLD_LOCK = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from crash_child import open_manager
from secrets_core import keys as keyring
config, flags = json.loads(sys.argv[1]), Path(sys.argv[3])

def stall(*args, **kwargs):  # called with the lock held: mark it, then wait to be killed
    (flags / "holding").touch()
    time.sleep(120)

keyring.KeyManager._save = stall
open_manager(config).rotate_encryption_key()
"""


def test_killing_the_lock_holder_frees_the_lock(
    data_dir: Path,
    tmp_path: Path,
    kill_once_flagged: Callable[[subprocess.Popen[bytes], Path], None],
) -> None:
    """The keyring lock (rotation) is released by the kernel when its holder dies: the next
    writer gets it at once. (The file backend's per-secret lock:
    plugins/file/tests/test_file_concurrency.py; the env file's lock:
    plugins/env/tests/test_env_crash.py.)"""
    config: dict = {"backend": "file", "data_dir": str(data_dir)}
    crash_child.open_manager(config).store_secret("before", "v")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, json.dumps(config), str(CHILD.parent), str(tmp_path)],
        env=child_env(),
    )
    kill_once_flagged(holder, tmp_path / "holding")
    started = time.monotonic()
    manager = crash_child.open_manager(config)
    manager.rotate_encryption_key()  # takes the keyring lock twice (begin, finish)
    manager.store_secret("after", "w")
    assert time.monotonic() - started < 5, "the dead holder's lock was not released"
    assert manager.retrieve_secret("before") == "v" and manager.retrieve_secret("after") == "w"
