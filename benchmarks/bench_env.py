"""Env backend benchmark: retrieve p50 through the manager against the floor measured in the
same run (a Fernet decrypt of the same payload plus an ``os.environ`` lookup). Prints ratios;
not a test (machines are noisy).

    /tmp/venv311/bin/python benchmarks/bench_env.py [--rounds 20000]

Target (issue 5): retrieve p50 at most 2x the floor. The breakdown rows show where the time
goes: the env backend's own share (variable lookup + text decode) and the core's envelope
open (key id, Fernet decrypt, name check), which every client-side-encrypted backend pays.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_common import Row, compare, fmt_us
from cryptography.fernet import Fernet
from secure_secrets_env.backend import EnvBackend
from secure_secrets_env.format import variable_name

from secrets_core.keys import envelope
from secure_secrets import SecureSecretsManager

VALUE = "x" * 64
NAME = "bench/api_key"


def interleaved_p50_us(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Per-call p50 of each function, sampled round-robin so that machine noise hits all of
    them alike."""
    for fn in fns.values():
        for _ in range(200):
            fn()
    samples: dict[str, list[int]] = {label: [] for label in fns}
    timer = time.perf_counter_ns
    for _ in range(rounds):
        for label, fn in fns.items():
            start = timer()
            fn()
            samples[label].append(timer() - start)
    return {label: statistics.median(s) / 1e3 for label, s in samples.items()}


def measure(rounds: int) -> tuple[dict[str, float], int]:
    """p50 (µs) of the floor, the manager's retrieve and its two parts; the variable's length."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for var in [v for v in os.environ if v.startswith("SECURE_SECRET")]:
            del os.environ[var]
        os.environ["SECURE_SECRETS_KEK"] = base64.b64encode(os.urandom(32)).decode()
        manager = SecureSecretsManager(
            default_backend="env",
            backends={"env": {"env_file": str(home / "app.env")}},
            key_source="env",
            data_dir=home / "data",
            audit_sinks=[],
        )
        manager.store_secret(NAME, VALUE)
        assert manager.retrieve_secret(NAME) == VALUE
        backend = EnvBackend()
        token = backend.read(NAME)
        cipher = manager.assembly.key_manager().cipher_for(envelope.key_id_of(token, NAME), NAME)

        fernet = Fernet(Fernet.generate_key())  # the floor: same payload, raw Fernet token
        os.environ["BENCH_FLOOR"] = fernet.encrypt(VALUE.encode()).decode()

        results = interleaved_p50_us(
            {
                "floor": lambda: fernet.decrypt(os.environ["BENCH_FLOOR"]),
                "retrieve": lambda: manager.retrieve_secret(NAME),
                "backend": lambda: backend.read(NAME),
                "envelope": lambda: envelope.open_token(cipher, token, NAME),
            },
            rounds,
        )
        token_len = len(os.environ[variable_name(NAME)])
    return results, token_len


def report_rows(rounds: int) -> list[Row]:
    results, _ = measure(rounds)
    floor = results["floor"]
    label = "Fernet decrypt + os.environ lookup"
    return [
        compare("env", "get: manager.retrieve_secret (audit off)", results["retrieve"], floor,
                fmt_us, at_most=2.0, floor_label=label),
        compare("env", "get, of which: env backend read (lookup + decode)", results["backend"],
                floor, fmt_us),
        compare("env", "get, of which: core envelope open (Fernet + checks)",
                results["envelope"], floor, fmt_us),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    results, token_len = measure(args.rounds)
    floor = results["floor"]
    print(f"\nenv backend retrieve, {len(VALUE)}-byte value ({token_len}-char variable), "
          f"p50 of {args.rounds} interleaved calls each")  # fmt: skip
    print(f"  floor: Fernet decrypt + os.environ lookup   {floor:7.1f} us")
    print(f"  manager.retrieve_secret (audit off)          {results['retrieve']:7.1f} us   "
          f"ratio {results['retrieve'] / floor:5.2f}x   target <= 2x")  # fmt: skip
    print("  breakdown:")
    print(f"    env backend read (lookup + text decode)    {results['backend']:7.1f} us   "
          f"{results['backend'] / floor:5.2f}x floor")  # fmt: skip
    print(f"    core envelope open_token (Fernet + checks) {results['envelope']:7.1f} us   "
          f"{results['envelope'] / floor:5.2f}x floor")  # fmt: skip
    rest = results["retrieve"] - results["backend"] - results["envelope"]
    print(f"    rest of the manager (names, audit event)   {rest:7.1f} us   "
          f"{rest / floor:5.2f}x floor")  # fmt: skip


if __name__ == "__main__":
    main()
