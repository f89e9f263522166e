"""Benchmark of the audited read and write against floors that do the same work by hand.

    .venv/bin/python benchmarks/bench_audit.py            # 3,000 gets, 300 sets
    .venv/bin/python benchmarks/bench_audit.py --quick    # 800 gets, 100 sets

Every retrieve is audited by default, so the audited read is what users feel. Floors, timed
interleaved with ours in the same run (see ``bench_file.paired``):

* audited-read floor: read a file holding one Fernet token, Fernet-decrypt it, build one event
  (``uuid.uuid4().hex`` id, UTC ISO time, JSON with sorted keys), HMAC-SHA256-chain it to the
  previous line and append it to an ``O_APPEND`` file under an exclusive ``flock``.
  Ours: ``SecureSecretsManager().retrieve_secret`` with the default config (file backend,
  envelope under a data key, the ``jsonl`` sink with its chain and checkpoint).
* audited-write floor: Fernet-encrypt + the durable write (temp file, fsync, ``os.replace``,
  directory fsync) + the same audit append. Ours: ``store_secret`` with the default config.

Targets (issue 17): get at most 1.25x its floor, set at most 1.3x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import sys
import uuid
from pathlib import Path

from bench_common import Row, compare, render
from bench_file import durable_replace, fmt_us, isolate, paired, plain_read, workspace

GET_TARGET = 1.25
SET_TARGET = 1.3


class AppendFloor:
    """One audit event by hand: build, chain, append under flock."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.key = os.urandom(32)
        self.prev = "0" * 64
        self.seq = 0

    def append(self, operation: str, name: str) -> None:
        self.seq += 1
        record = {
            "event_id": uuid.uuid4().hex,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "operation": operation,
            "backend": "file",
            "secret_name": name,
            "outcome": "success",
            "error_type": None,
            "actor": {"user": "bench", "pid": os.getpid(), "host": "h"},
            "details": {},
            "seq": self.seq,
            "prev": self.prev,
        }
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        mac = hmac.new(self.key, self.prev.encode() + b"\n" + body, hashlib.sha256).hexdigest()
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            os.write(self.fd, body[:-1] + b',"mac":"' + mac.encode() + b'"}\n')
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.prev = mac


def measure(get_n: int, set_n: int) -> list[Row]:
    with workspace(None) as base:
        isolate(base)
        from cryptography.fernet import Fernet

        from secure_secrets import SecureSecretsManager

        fernet = Fernet(Fernet.generate_key())
        floor_dir = base / "floor"
        floor_dir.mkdir(mode=0o700)
        token_file = floor_dir / "token"
        token_file.write_bytes(fernet.encrypt(b"v" * 64))
        audit = AppendFloor(floor_dir / "audit.jsonl")
        manager = SecureSecretsManager()  # the default config: file backend, jsonl sink
        names = [f"bench/s{i}" for i in range(16)]
        for name in names:
            manager.store_secret(name, "v" * 64)

        def floor_get(i: int) -> object:
            value = fernet.decrypt(plain_read(token_file))
            audit.append("retrieve", names[i % 16])
            return value

        def ours_get(i: int) -> object:
            return manager.retrieve_secret(names[i % 16])

        def floor_set(i: int) -> None:
            durable_replace(token_file, fernet.encrypt(b"v" * 64))
            audit.append("store", names[i % 16])

        def ours_set(i: int) -> object:
            return manager.store_secret(names[i % 16], "v" * 64)

        paired(300, floor_get, ours_get)  # warm up
        fg, og = paired(get_n, floor_get, ours_get)
        fs, os_ = paired(set_n, floor_set, ours_set)
        assert manager.verify_audit_log().ok
    return [
        compare(
            "audit", "audited get (default config)", og.p50, fg.p50, fmt_us,
            at_most=GET_TARGET, floor_label="read+decrypt+event+HMAC+flock append",
        ),
        compare(
            "audit", "audited set (default config)", os_.p50, fs.p50, fmt_us,
            at_most=SET_TARGET, floor_label="durable write+event+HMAC+flock append",
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    rows = measure(800, 100) if args.quick else measure(3000, 300)
    print(render(rows))
    sys.exit(0 if all(row.ok is not False for row in rows) else 1)


if __name__ == "__main__":
    main()
