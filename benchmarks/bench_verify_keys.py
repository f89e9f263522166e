"""Benchmark: ``secure-secrets verify-keys`` against reading every record file once.

Stores N secrets on the file backend (a few with several versions, a few soft-deleted), then,
interleaved in one run, times (a) the floor, reading every record file of the store once by
hand (open, read, close), and (b) ``verify_keys()``, which reads the data key id of every
stored version of every secret without decrypting. Prints the ratio (target <= 1.5x).

    .venv/bin/python benchmarks/bench_verify_keys.py --count 10000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def read_every_record(store: Path) -> int:
    count = 0
    for entry in os.scandir(store):
        if entry.name.endswith((".secret", ".deleted")) and not entry.name.startswith("."):
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.read(fd, os.fstat(fd).st_size)
            finally:
                os.close(fd)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="secrets to store")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SECURE_SECRETS_LOG_DIR"] = str(home / "log")
        from secrets_core.rotation import verify_keys
        from secure_secrets import SecureSecretsManager

        manager = SecureSecretsManager(data_dir=home / "data", audit_sinks=[])
        manager.store_secret("seed", "v")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: manager.store_secret(f"s/{i:06d}", f"value {i}"),
                          range(args.count - 1)))  # fmt: skip
        for i in range(0, args.count - 1, 100):  # 1%: three versions; 1%: soft-deleted
            manager.store_secret(f"s/{i:06d}", "second")
            manager.store_secret(f"s/{i:06d}", "third")
            manager.delete_secret(f"s/{i + 1:06d}")
        store = home / "data" / "store"
        floors, ours = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            files = read_every_record(store)
            floors.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = verify_keys(manager.assembly)
            ours.append(time.perf_counter() - start)
        assert report.ok and files == args.count, (report, files)
        floor, took = statistics.median(floors), statistics.median(ours)
        print(f"verify-keys over {files} secrets ({sum(report.checked.values())} stored values): "
              f"{took:.3f} s; floor (read every record file once) {floor:.3f} s; ratio "
              f"{took / floor:.2f}x (target <= 1.5x); medians of {args.rounds} interleaved "
              "rounds")  # fmt: skip


if __name__ == "__main__":
    main()
