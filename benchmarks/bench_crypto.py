"""Crypto benchmark: envelope overhead, KDF count per unlock, rotation cost. Prints ratios
against floors measured in the same run (not a test; machines are noisy).

    .venv/bin/python benchmarks/bench_crypto.py [--count 10000]

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
from dataclasses import dataclass
from pathlib import Path

from bench_common import Row, compare, fmt_us
from cryptography.fernet import Fernet
from secure_secrets_fernet import kdfs
from secure_secrets_fernet.cipher import FernetCipher

from secrets_core.fsutil import atomic_write
from secrets_core.keys import envelope
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


def envelope_overhead() -> list[tuple[str, float, float]]:
    """(operation, raw Fernet µs, envelope µs) for encrypt and decrypt of 64 bytes."""
    key = os.urandom(32)
    import base64

    raw = Fernet(base64.urlsafe_b64encode(key))
    raw_token = raw.encrypt(PAYLOAD)
    cipher = FernetCipher(key)
    secret = SecretValue(PAYLOAD)
    token = envelope.seal(cipher, "0123456789abcdef", "bench/name", secret)

    rows = [
        ("encrypt", *paired_median_us(
            lambda: raw.encrypt(PAYLOAD),
            lambda: envelope.seal(cipher, "0123456789abcdef", "bench/name", secret))),
        ("decrypt", *paired_median_us(
            lambda: raw.decrypt(raw_token),
            lambda: envelope.open_token(cipher, token, "bench/name"))),
    ]  # fmt: skip
    return rows


def paired_median_us(
    floor: Callable[[], object], ours: Callable[[], object], rounds: int = 400, batch: int = 50
) -> tuple[float, float]:
    """Per-call medians of ``floor`` and ``ours``, their batches alternating so that the
    machine's load at any moment weighs on both alike."""
    floor(), ours()
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        for k in (i % 2, 1 - i % 2):
            fn = (floor, ours)[k]
            start = time.perf_counter()
            for _ in range(batch):
                fn()
            samples[k].append((time.perf_counter() - start) / batch)
    return statistics.median(samples[0]) * 1e6, statistics.median(samples[1]) * 1e6


def print_envelope_overhead(rows: list[tuple[str, float, float]]) -> None:
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


@dataclass
class Rotation:
    count: int  # secrets rotated (the seed included)
    seconds: float
    floor_us: float  # one durable rewrite: the mean of the medians timed before and after
    floor_before_us: float
    floor_after_us: float
    backends: object
    progress_reports: int
    populate_seconds: float

    @property
    def budget(self) -> float:
        return self.count * self.floor_us / 1e6


def store_rewrite_floor(data_dir: Path, samples: int = 300) -> float:
    """Median µs of the floor of rotating one secret: a durable rewrite, by hand, of one of
    the store's own secret files with its own bytes (same directory, same size). Falls back
    to a small file beside the store if the store's files are not found."""
    files = sorted(data_dir.rglob("*.secret"))
    if not files:
        return durable_write_floor(data_dir, samples)
    chosen = files[:: max(1, len(files) // samples)][:samples]
    payloads = [(path, path.read_bytes()) for path in chosen]
    atomic_write(*payloads[0])
    times = []
    for path, data in payloads:
        start = time.perf_counter()
        atomic_write(path, data)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def rotation(home: Path, count: int) -> Rotation:
    """Store ``count`` secrets (+1 seed) and rotate them. The floor is a durable rewrite of
    one of the store's files, timed just before and just after the rotation (the disk may
    change its pace during a rotation that takes tens of seconds; both figures are kept)."""
    from concurrent.futures import ThreadPoolExecutor

    from secure_secrets import SecureSecretsManager

    manager = SecureSecretsManager(data_dir=home / "rot", audit_sinks=[])
    manager.store_secret("seed", "v")
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # populate in parallel; each write is still durable
        list(pool.map(lambda i: manager.store_secret(f"s/{i:06d}", f"value {i}"), range(count)))
    populate = time.perf_counter() - start
    before = store_rewrite_floor(home / "rot")
    progress = []
    start = time.perf_counter()
    event = manager.rotate_encryption_key(progress=lambda b, d, t: progress.append(d))
    took = time.perf_counter() - start
    after = store_rewrite_floor(home / "rot")
    return Rotation(
        count + 1, took, (before + after) / 2, before, after, event.details["backends"],
        len(progress), populate,
    )  # fmt: skip


def print_rotation(rot: Rotation) -> None:
    print(f"\nrotation of {rot.count} secrets: {rot.seconds:.2f} s; floor {rot.count} x "
          f"{rot.floor_us:.0f} us durable rewrite = {rot.budget:.2f} s; ratio "
          f"{rot.seconds / rot.budget:.2f}x (target <= 1.5x); the write timed "
          f"{rot.floor_before_us:.0f} us before and {rot.floor_after_us:.0f} us after")  # fmt: skip
    print(f"  counts {rot.backends}; progress reported {rot.progress_reports} times; "
          f"population took {rot.populate_seconds:.1f} s")  # fmt: skip


def report_rows(count: int, envelope_rows: bool = True) -> list[Row]:
    """The report's rows: envelope seal/open against raw Fernet, and rotating ``count``
    secrets against as many durable single-file writes."""
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SECURE_SECRETS_LOG_DIR"] = str(home / "log")
        if envelope_rows:
            for label, floor, ours in envelope_overhead():
                name = "seal (encrypt)" if label == "encrypt" else "open (decrypt)"
                out.append(compare("crypto", f"envelope {name}, 64 B", ours, floor, fmt_us,
                                   at_most=1.5, floor_label=f"raw Fernet {label}"))  # fmt: skip
        rot = rotation(home, count)
    out.append(
        Row("rotation", f"rotate {rot.count:,} secrets (file backend)", f"{rot.seconds:.2f} s",
            f"{rot.budget:.2f} s ({rot.count:,} x {fmt_us(rot.floor_us)}: "
            f"{fmt_us(rot.floor_before_us)} before, {fmt_us(rot.floor_after_us)} after)",
            rot.seconds / rot.budget, "<= 1.5x", round(rot.seconds / rot.budget, 2) <= 1.5)
    )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="secrets to rotate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SECURE_SECRETS_LOG_DIR"] = str(home / "log")
        print_envelope_overhead(envelope_overhead())
        kdf_count(home)
        print_rotation(rotation(home, args.count))


if __name__ == "__main__":
    main()
