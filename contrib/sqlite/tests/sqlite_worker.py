"""One of the concurrent writers of test_sqlite_concurrency.py (run as a script).

argv: database path, worker index, writes per name, start time (epoch seconds).
Writes ``w{index}/n{j}`` (its own names) and ``shared`` (every worker), then exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from secure_secrets_sqlite.backend import SqliteBackend

path, index, count, start = (
    Path(sys.argv[1]),
    int(sys.argv[2]),
    int(sys.argv[3]),
    float(sys.argv[4]),
)
backend = SqliteBackend(path, max_versions=5, timeout=30.0)
time.sleep(max(0.0, start - time.time()))  # every worker starts writing at the same moment
for j in range(count):
    backend.write(f"w{index}/n{j}", f"value {index}-{j}")
    backend.write("shared", f"shared {index}-{j}".encode())
backend.close()
