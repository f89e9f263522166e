"""A worker process for the concurrency and kill -9 tests (run as a script, not collected).

    python file_worker.py MODE ROOT ID COUNT

Modes (ROOT is the store directory; ``mgr-*`` modes go through SecureSecretsManager with
``data_dir`` = ROOT's parent and the environment's config):

* ``distinct`` / ``mgr-distinct``: write COUNT distinct names ``w<ID>/s<i>``;
* ``shared`` / ``mgr-shared``: write the name ``shared`` COUNT times;
* ``reader`` / ``mgr-reader``: read ``shared`` and the distinct names until the file ROOT/../stop
  exists (or 120 s pass), checking each value is complete; prints the number of reads;
* ``loop``: overwrite ``k0`` .. ``k4`` in a loop for up to 120 s (the kill -9 test kills it);
* ``stall``: start writing ``k0``, and after the temp file is written, hold the lock and sleep
  up to 120 s (the kill -9 test kills it there, mid-write).

The time limits only keep a worker orphaned by a crashed test run from running on.

Every value is self-checking (see :func:`make_value`), so a torn or mixed value is detected.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

DISTINCT_WORKERS = 4
MAX_SECONDS = 120


def make_value(tag: str, size: int) -> str:
    """``tag:padding:sha256(tag:padding)``; padding length varies so records differ in size."""
    body = f"{tag}:{'x' * size}"
    return f"{body}:{hashlib.sha256(body.encode()).hexdigest()}"


def is_complete(value: object) -> bool:
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        return False
    body, _, digest = value.rpartition(":")
    return hashlib.sha256(body.encode()).hexdigest() == digest


def distinct_value(worker: int, i: int) -> str:
    return make_value(f"w{worker}-{i}", (i * 37) % 700)


def shared_value(worker: int, i: int) -> str:
    return make_value(f"shared-{worker}-{i}", (i * 53 + worker * 101) % 4000)


def open_store(mode: str, root: Path):  # type: ignore[no-untyped-def]
    if mode.startswith("mgr-"):
        from secure_secrets import SecureSecretsManager

        manager = SecureSecretsManager(data_dir=root.parent, audit_sinks=[])
        return manager.store_secret, manager.retrieve_secret
    from secure_secrets_file.backend import FileBackend

    backend = FileBackend(root, lock_timeout=60)
    return backend.write, backend.read


def main() -> int:
    mode, root_arg, worker_arg, count_arg = sys.argv[1:5]
    root, worker, count = Path(root_arg), int(worker_arg), int(count_arg)
    if mode == "stall":
        return stall(root)
    write, read = open_store(mode, root)
    kind = mode.removeprefix("mgr-")
    if kind == "distinct":
        for i in range(count):
            write(f"w{worker}/s{i:04d}", distinct_value(worker, i))
    elif kind == "shared":
        for i in range(count):
            write("shared", shared_value(worker, i))
    elif kind == "reader":
        return reader(root, read, count)
    elif kind == "loop":
        i = 0
        deadline = time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline:
            write(f"k{i % 5}", make_value(f"loop-{i}", (i * 997) % 20000))
            i += 1
    return 0


def reader(root: Path, read, count: int) -> int:  # type: ignore[no-untyped-def]
    from secrets_core.errors import SecretNotFoundError

    stop = root.parent / "stop"
    reads = i = 0
    deadline = time.monotonic() + MAX_SECONDS
    while not stop.exists() and time.monotonic() < deadline:
        i += 1
        names = ["shared", f"w{i % DISTINCT_WORKERS}/s{(i * 7919) % count:04d}"]
        for name in names:
            try:
                value = read(name)
            except SecretNotFoundError:
                continue
            if not is_complete(value):
                print(f"incomplete value for {name}", flush=True)
                return 1
            reads += 1
    print(reads, flush=True)
    return 0


def stall(root: Path) -> int:
    """Write ``k0``; when the temp file's data is written, before its fsync and rename, mark the
    moment and sleep while holding the lock."""
    from secure_secrets_file.backend import FileBackend

    backend = FileBackend(root)
    real_fsync = os.fsync

    def fsync_then_stall(fd: int) -> None:
        real_fsync(fd)
        (root.parent / "stalled").write_text(str(os.getpid()))
        time.sleep(MAX_SECONDS)

    os.fsync = fsync_then_stall
    backend.write("k0", make_value("stalled-write", 5000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
