"""Four processes write to one database at once: distinct names and one shared name."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from secure_secrets_sqlite.backend import SqliteBackend

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("sqlite_worker.py")
PROCESSES = 4
WRITES = 40


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    start = time.time() + 1.5  # after every interpreter has started
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(db), str(i), str(WRITES), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    backend = SqliteBackend(db, max_versions=5)
    names = backend.list_names("")
    expected = {f"w{i}/n{j}" for i in range(PROCESSES) for j in range(WRITES)}
    assert set(names) == expected | {"shared"}
    for i in range(PROCESSES):
        for j in range(WRITES):
            assert backend.read(f"w{i}/n{j}") == f"value {i}-{j}"
    written = {f"shared {i}-{j}".encode() for i in range(PROCESSES) for j in range(WRITES)}
    assert backend.read("shared") in written, "the shared name holds one written value"
    meta = backend.metadata("shared")
    assert meta.current_version == PROCESSES * WRITES, "every write got its own version"
    assert [v.version for v in meta.versions] == list(
        range(PROCESSES * WRITES - 4, PROCESSES * WRITES + 1)
    )
    last_per_worker = {f"shared {i}-{WRITES - 1}".encode() for i in range(PROCESSES)}
    assert backend.read("shared") in last_per_worker, "the newest version is some worker's last"
    backend.close()
