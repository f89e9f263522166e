"""Real processes writing and reading one store at once, and writers killed with SIGKILL.

Workers are separate interpreters running ``file_worker.py``; every value they write is
self-checking, so a reader that ever saw a torn or mixed value fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from secure_secrets_file.backend import FileBackend, file_name

from secrets_core.errors import BackendUnavailableError, LockTimeoutError
from secrets_core.fsutil import TEMP_SUFFIX
from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("file_worker.py")
_spec = importlib.util.spec_from_file_location("file_worker", WORKER)
assert _spec is not None and _spec.loader is not None
file_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(file_worker)
DISTINCT_WORKERS = file_worker.DISTINCT_WORKERS
SHARED_WORKERS = 4
distinct_value, shared_value = file_worker.distinct_value, file_worker.shared_value
is_complete = file_worker.is_complete


def start(mode: str, root: Path, worker: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(root), str(worker), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}): {out}\n{err}"
    return out


def run_writers_and_readers(
    root: Path, distinct: int, shared: int, readers: int, prefix: str = ""
) -> list[int]:
    """Start every writer and reader at once; return each reader's number of reads. Every
    worker is stopped, whatever happens."""
    processes: list[subprocess.Popen[str]] = []
    try:
        writers = [start(prefix + "distinct", root, w, distinct) for w in range(DISTINCT_WORKERS)]
        writers += [start(prefix + "shared", root, w, shared) for w in range(SHARED_WORKERS)]
        processes += writers
        reading = [start(prefix + "reader", root, r, distinct) for r in range(readers)]
        processes += reading
        for process in writers:
            finish(process)
        (root.parent / "stop").touch()
        return [int(finish(process)) for process in reading]
    finally:
        (root.parent / "stop").touch()
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def check_store(root: Path, distinct: int, shared: int) -> None:
    backend = FileBackend(root)
    expected_names = {f"w{w}/s{i:04d}" for w in range(DISTINCT_WORKERS) for i in range(distinct)}
    assert set(backend.list_names("w")) == expected_names, "a distinct write was lost"
    for w in range(DISTINCT_WORKERS):
        for i in range(distinct):
            assert backend.read(f"w{w}/s{i:04d}") == distinct_value(w, i)
    written = {shared_value(w, i) for w in range(SHARED_WORKERS) for i in range(shared)}
    assert backend.read("shared") in written, "the shared name must end with a written value"
    meta = backend.metadata("shared")
    assert meta.current_version == SHARED_WORKERS * shared, (
        "every overwrite of the shared name must have made exactly one version (none lost)"
    )
    assert [v.version for v in meta.versions] == list(
        range(meta.current_version - len(meta.versions) + 1, meta.current_version + 1)
    )
    for info in meta.versions:
        assert backend.read_version("shared", info.version) in written
    assert not list(root.glob(f".*{TEMP_SUFFIX}")), "no temp file survives a finished write"


def test_four_writers_of_distinct_names_and_four_of_one_name_lose_nothing(tmp_path: Path) -> None:
    """The issue's numbers: 4 processes x 500 distinct names, 4 processes overwriting one name,
    2 readers throughout."""
    root = tmp_path / "data" / "store"
    reads = run_writers_and_readers(root, distinct=500, shared=100, readers=2)
    assert all(count > 0 for count in reads), "the readers must have run during the writes"
    check_store(root, distinct=500, shared=100)


def test_through_the_manager_readers_always_decrypt_a_complete_value(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    SecureSecretsManager(data_dir=data_dir, audit_sinks=[]).store_secret("seed", "x")  # keys
    root = data_dir / "store"
    reads = run_writers_and_readers(root, distinct=60, shared=30, readers=2, prefix="mgr-")
    assert all(count > 0 for count in reads)
    manager = SecureSecretsManager(data_dir=data_dir, audit_sinks=[])
    for w in range(DISTINCT_WORKERS):
        for i in range(60):
            assert manager.retrieve_secret(f"w{w}/s{i:04d}") == distinct_value(w, i)
    written = {shared_value(w, i) for w in range(SHARED_WORKERS) for i in range(30)}
    assert manager.retrieve_secret("shared") in written
    assert manager.secret_metadata("shared").current_version == SHARED_WORKERS * 30


def test_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store")
    errors: list[BaseException] = []

    def overwrite(worker: int) -> None:
        try:
            for i in range(40):
                backend.write("shared", shared_value(worker, i))
                assert is_complete(backend.read("shared"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=overwrite, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert backend.metadata("shared").current_version == 4 * 40


# --- kill -9 -------------------------------------------------------------------------------


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def test_kill_9_mid_write_keeps_the_old_value_sweeps_the_temp_file_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data" / "store"
    before = file_worker.make_value("before", 10)
    FileBackend(root).write("k0", before)
    process = start("stall", root, 0, 0)
    try:
        wait_for(tmp_path / "data" / "stalled", process)
        temps = list(root.glob(f".*{TEMP_SUFFIX}"))
        assert len(temps) == 1, "the writer was killed with its temp file written, lock held"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    assert FileBackend(root).read("k0") == before, "readers see the old value, complete"
    assert not temps[0].exists(), "opening the store sweeps the dead writer's temp file"
    fresh = FileBackend(root, lock_timeout=2)
    started = time.monotonic()
    assert fresh.write("k0", "after") == 2, "the next writer gets the lock"
    assert time.monotonic() - started < 2
    assert fresh.read("k0") == "after"


def test_a_live_writers_temp_file_is_not_swept(tmp_path: Path) -> None:
    root = tmp_path / "data" / "store"
    FileBackend(root).write("k0", "v")
    process = start("stall", root, 0, 0)
    try:
        wait_for(tmp_path / "data" / "stalled", process)
        temps = list(root.glob(f".*{TEMP_SUFFIX}"))
        FileBackend(root)  # the lock is held: the temp file is not stale
        assert all(t.exists() for t in temps)
    finally:
        process.kill()
        process.wait()


def test_kill_9_at_random_times_leaves_every_secret_complete(tmp_path: Path) -> None:
    root = tmp_path / "data" / "store"
    backend = FileBackend(root)
    for kill in range(6):
        process = start("loop", root, 0, 0)
        try:
            deadline = time.monotonic() + 60
            while True:  # let it write a few times, then kill it anywhere
                try:
                    if backend.metadata("k4").current_version > kill * 3:
                        break
                except KeyError:
                    pass
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.005)
            time.sleep(0.003 * kill)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        reopened = FileBackend(root, lock_timeout=2)
        assert not list(root.glob(f".*{TEMP_SUFFIX}"))
        for name in reopened.list_names(""):
            assert is_complete(reopened.read(name)), name
            for info in reopened.metadata(name).versions:
                assert is_complete(reopened.read_version(name, info.version))
        reopened.write("k0", file_worker.make_value("after-kill", kill))  # no deadlock


@pytest.mark.parametrize("holder", ["thread", "process"])
def test_a_held_lock_times_out_with_a_typed_error(tmp_path: Path, holder: str) -> None:
    root = tmp_path / "data" / "store"
    backend = FileBackend(root, lock_timeout=0.2)
    backend.write("k0", "v")
    if holder == "thread":
        stem = file_name("k0").split(".")[0]
        with backend.locks.hold(stem, "k0"), pytest.raises(LockTimeoutError, match="'k0'") as info:
            backend.write("k0", "w")
    else:
        process = start("stall", root, 0, 0)
        try:
            wait_for(tmp_path / "data" / "stalled", process)
            with pytest.raises(LockTimeoutError, match="'k0'") as info:
                backend.write("k0", "w")
        finally:
            process.kill()
            process.wait()
    assert isinstance(info.value, BackendUnavailableError)
    assert backend.read("k0") == "v"
    backend.write("k1", "other names are not blocked")
