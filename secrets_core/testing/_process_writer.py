"""One writer process of the multi-process contract (``python -m`` this module).

Reads a pickled ``(backend_maker, worker, writes)`` from stdin, builds its own backend
instance, prints ``ready``, waits for a line on stdin (every writer starts at once), then
writes ``kit_proc/<worker>`` and ``kit_proc/shared`` ``writes`` times each and prints one JSON
line: ``{"shared": [[version, value], ...], "error": null or "Type: message"}``.

A fresh interpreter rather than ``multiprocessing``: spawn re-runs the parent's main script,
which is not pytest when the kit runs from a script or another runner.
"""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any


def main() -> None:
    # The parent test's own pipe to the child it started: nothing untrusted is unpickled.
    maker, worker, writes = pickle.load(sys.stdin.buffer)  # noqa: S301  # nosec B301
    shared: list[tuple[Any, str]] = []
    error: str | None = None
    try:
        backend = maker()
        try:
            print("ready", flush=True)
            sys.stdin.buffer.readline()
            for i in range(writes):
                value = f"{worker}-{i}"
                backend.write(f"kit_proc/{worker}", value)
                shared.append((backend.write("kit_proc/shared", value), value))
        finally:
            backend.close()
    except BaseException as exc:  # noqa: BLE001  # reported to the parent test
        error = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"shared": shared, "error": error}), flush=True)


if __name__ == "__main__":
    main()
