"""Benchmark of the keyring backend (contrib/keyring-backend, issue 23).

    .venv/bin/python benchmarks/bench_keyring_backend.py            # 1,000 credentials stored
    .venv/bin/python benchmarks/bench_keyring_backend.py --quick    # fewer rounds

With ``--count`` credentials stored (default 1,000), in one process:

* overhead: ``keyring.get_password`` with our backend selected (``keyring.set_keyring``) on the
  default file store, against ``retrieve_secret`` of the same secret on the backend's own
  manager: the floor. Both audited by the default JSON-lines sink. Target: at most 1.5x.
* peer: keyrings.cryptfile ``CryptFileKeyring`` (default settings: Argon2 on every call)
  holding as many credentials, its ``get_password`` against ours. Target: ours at least 100x
  faster. Its file is filled by cloning one real entry, as benchmarks/bench_file.py does (its
  ``set_password`` rewrites the whole file and runs Argon2, so filling it call by call would
  take minutes); the timed gets are real calls.

Timings are interleaved (same iteration, alternating order) and compared by medians. Everything
runs in a temporary directory; XDG variables point there, so nothing touches the user's own
secrets, keys, audit log or keyring.
"""

from __future__ import annotations

import argparse
import configparser
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SERVICE = "https://pypi.example.com/simple/"
PASSWORD = "x" * 64


def isolate(base: Path) -> None:
    """Point every user directory at ``base`` before secure_secrets or keyring is imported."""
    for var in list(os.environ):
        if var.startswith(("SECURE_SECRETS_", "KEYRING_PROPERTY_", "PYTHON_KEYRING")):
            del os.environ[var]
    for xdg in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[xdg] = str(base / xdg.lower())


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def paired(
    rounds: int, first: Callable[[], object], second: Callable[[], object]
) -> tuple[float, float]:
    """Median µs of ``first`` and ``second``, timed in the same iterations, alternating order."""
    a: list[int] = []
    b: list[int] = []
    clock = time.perf_counter_ns
    for i in range(rounds):
        for run, into in ((first, a), (second, b)) if i % 2 else ((second, b), (first, a)):
            start = clock()
            run()
            into.append(clock() - start)
    return median_us(a), median_us(b)


def fill(count: int) -> object:
    """Our backend with ``count`` credentials stored through it (real, durable writes)."""
    import keyring
    from secure_secrets_keyring_backend import SecureSecretsKeyring

    ring = SecureSecretsKeyring()
    for i in range(count - 1):
        ring.set_password(SERVICE, f"user{i:05d}", PASSWORD)
    ring.set_password(SERVICE, "probe", PASSWORD)
    keyring.set_keyring(ring)
    return ring


def cryptfile_ring(folder: Path, count: int) -> object | None:
    try:
        from keyrings.cryptfile.cryptfile import CryptFileKeyring
    except ImportError:
        return None
    ring = CryptFileKeyring()
    ring.file_path = str(folder / "cryptfile.cfg")
    ring.keyring_key = "bench passphrase"
    ring.set_password(SERVICE, "probe", PASSWORD)
    config = configparser.RawConfigParser()
    config.read(ring.file_path)
    section = next(s for s in config.sections() if config.has_option(s, "probe"))
    value = config.get(section, "probe")
    for i in range(count - 1):
        config.set(section, f"filler{i:05d}", value)
    with open(ring.file_path, "w") as handle:
        config.write(handle)
    return ring


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="credentials stored")
    parser.add_argument("--rounds", type=int, default=3000, help="paired gets of ours")
    parser.add_argument("--peer-rounds", type=int, default=5, help="cryptfile gets")
    parser.add_argument("--quick", action="store_true", help="500 rounds, 3 cryptfile gets")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.peer_rounds = 500, 3
    with tempfile.TemporaryDirectory(prefix="bench-keyring-") as tmp:
        base = Path(tmp)
        isolate(base)
        import keyring
        from secure_secrets_keyring_backend import secret_name

        ring = fill(args.count)
        manager = ring.manager  # type: ignore[attr-defined]
        name = secret_name(SERVICE, "probe")
        assert keyring.get_password(SERVICE, "probe") == manager.retrieve_secret(name) == PASSWORD
        for _ in range(200):  # warm up both paths
            keyring.get_password(SERVICE, "probe")
            manager.retrieve_secret(name)
        ours, floor = paired(
            args.rounds,
            lambda: keyring.get_password(SERVICE, "probe"),
            lambda: manager.retrieve_secret(name),
        )
        rows = [("keyring.get_password, ours (file store)", ours, floor, "retrieve_secret", 1.5)]
        peer = cryptfile_ring(base, args.count)
        print(f"{args.count} credentials stored; Python {sys.version.split()[0]}")
        print(f"{'measure':44} {'ours':>10} {'against':>12}  ratio   target")
        for label, mine, other, other_label, target in rows:
            ratio = mine / other
            verdict = "pass" if round(ratio, 2) <= target else "MISS"
            print(
                f"{label:44} {mine:8.1f}µs {other:10.1f}µs  {ratio:5.2f}x  <= {target}x "
                f"{verdict} (vs {other_label})"
            )
        if peer is None:
            print("keyrings.cryptfile: not installed (pip install keyrings.cryptfile)")
            return 0
        theirs_samples: list[int] = []
        for _ in range(args.peer_rounds):
            start = time.perf_counter_ns()
            assert peer.get_password(SERVICE, "probe") == PASSWORD  # type: ignore[attr-defined]
            theirs_samples.append(time.perf_counter_ns() - start)
        theirs = median_us(theirs_samples)
        speedup = theirs / ours
        verdict = "pass" if round(speedup, 2) >= 100 else "MISS"
        print(
            f"{'keyrings.cryptfile get / ours':44} {ours:8.1f}µs {theirs / 1000:10.1f}ms  "
            f"{speedup:5.0f}x  >= 100x {verdict} (ours faster)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
