"""Crypto benchmark: envelope overhead, KDF count per unlock, rotation cost. Prints ratios
against floors measured in the same run (not a test; machines are noisy).

    .venv/bin/python tests/bench_crypto.py [--count 10000]

Targets (issue 3): seal/open at most 1.5x raw Fernet encrypt/decrypt of the same payload;
exactly one KDF per process per key source; rotating N secrets on the file backend at most
1.5x N durable single-file writes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from secure_secrets_fernet import kdfs
from secure_secrets_fernet.cipher import FernetCipher

from secrets_core import envelope
from secrets_core.fsutil import atomic_write
from secrets_core.secret import SecretValue

PAYLOAD = b"x" * 64


def median_us(fn: Callable[[], object], rounds: int = 5000, batch: int = 1) -> float:
    """Median time per call over ``rounds`` batches of ``batch`` calls (batches hide the
    timer's own overhead for microsecond operations)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples) * 1e6


def envelope_overhead() -> None:
    key = os.urandom(32)
    import base64

    raw = Fernet(base64.urlsafe_b64encode(key))
    raw_token = raw.encrypt(PAYLOAD)
    cipher = FernetCipher(key)
    secret = SecretValue(PAYLOAD)
    token = envelope.seal(cipher, "0123456789abcdef", "bench/name", secret)

    def per_op(fn: Callable[[], object]) -> float:
        return median_us(fn, rounds=200, batch=100)

    rows = [
        ("encrypt", per_op(lambda: raw.encrypt(PAYLOAD)),
         per_op(lambda: envelope.seal(cipher, "0123456789abcdef", "bench/name", secret))),
        ("decrypt", per_op(lambda: raw.decrypt(raw_token)),
         per_op(lambda: envelope.open_token(cipher, token, "bench/name"))),
    ]  # fmt: skip
    print("\n64-byte payload       raw Fernet    envelope    ratio   target")
    for label, floor, ours in rows:
        print(f"{label:<20} {floor:8.1f} us {ours:8.1f} us {ours / floor:7.2f}x   <= 1.5x")


def kdf_count(home: Path) -> None:
    os.environ["SECURE_SECRETS_PASSPHRASE"] = "benchmark passphrase"
    calls = []
    real = kdfs.Argon2idKdf.derive
    kdfs.Argon2idKdf.derive = lambda self, *a: calls.append(1) or real(self, *a)  # type: ignore[method-assign]
    from secure_secrets import SecureSecretsManager

    manager = SecureSecretsManager(key_source="passphrase", data_dir=home / "kdf", audit_sinks=[])
    start = time.perf_counter()
    manager.store_secret("a", "v")
    first = time.perf_counter() - start
    for _ in range(200):
        manager.retrieve_secret("a")
    SecureSecretsManager(
        key_source="passphrase", data_dir=home / "kdf", audit_sinks=[]
    ).retrieve_secret("a")
    kdfs.Argon2idKdf.derive = real  # type: ignore[method-assign]
    print(f"\nunlock: {len(calls)} argon2id derivation(s) for 202 operations in 2 managers "
          f"(target: exactly 1); first store incl. KDF {first * 1e3:.0f} ms")  # fmt: skip


def durable_write_floor(directory: Path, rounds: int = 300) -> float:
    path = directory / "floor.bin"
    data = os.urandom(200)
    return median_us(lambda: atomic_write(path, data), rounds)


def rotation(home: Path, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from secure_secrets import SecureSecretsManager

    manager = SecureSecretsManager(data_dir=home / "rot", audit_sinks=[])
    manager.store_secret("seed", "v")
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # populate in parallel; each write is still durable
        list(pool.map(lambda i: manager.store_secret(f"s/{i:06d}", f"value {i}"), range(count)))
    populate = time.perf_counter() - start
    floor_us = durable_write_floor(home / "rot")
    progress = []
    start = time.perf_counter()
    event = manager.rotate_encryption_key(progress=lambda b, d, t: progress.append(d))
    took = time.perf_counter() - start
    budget = (count + 1) * floor_us / 1e6
    print(f"\nrotation of {count + 1} secrets: {took:.2f} s; floor {count + 1} x "
          f"{floor_us:.0f} us durable write = {budget:.2f} s; ratio {took / budget:.2f}x "
          "(target <= 1.5x)")  # fmt: skip
    print(f"  counts {event.details['backends']}; progress reported {len(progress)} times; "
          f"population took {populate:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="secrets to rotate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SECURE_SECRETS_LOG_DIR"] = str(home / "log")
        envelope_overhead()
        kdf_count(home)
        rotation(home, args.count)


if __name__ == "__main__":
    main()
