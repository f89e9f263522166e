"""Benchmark of secret references and redacted logs (issue 21), ratios against floors
measured in the same run, interleaved (one of each per round) on the same data:

* log redaction: formatting a record with the RedactingFilter, 100 retrieved values known,
  against formatting the same record without it (target <= 2x, judged with a timestamped
  format; with ``logging.BASIC_FORMAT``, which costs about one ``getMessage``, for
  information: the filter has to format the message itself, so it cannot stay under 2x);
* resolving 100 references on the file backend (default config: audited) against 100
  ``retrieve_secret`` calls (target <= 1.5x; both on an unlocked manager, and both with a
  fresh manager, so "plus one unlock" is in both);
* ``run --env-file`` with 100 references against ``run`` of the same 100 secrets by name
  (``--only`` x100) (target <= 1.3x), new processes each.

    python benchmarks/bench_references.py [--rounds N] [--cli-rounds N]

Everything runs in a temporary home; nothing of the user's is read or written.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

N = 100
RECORDS_PER_BATCH = 500
MAIN = "from secrets_core.cli import main; main()"


def interleaved_medians(fns: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median of each function's returned duration, one call of each per round."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def bench_logging(rounds: int) -> list[tuple[str, float, float, float | None]]:
    from secure_secrets import RedactingFilter, redact_logs, stop_redacting

    values = [secrets.token_urlsafe(18) for _ in range(N)]
    redact_logs(logging.NullHandler(), values=values)
    flt = RedactingFilter()
    rows = []
    for label, fmt, target in (
        ("asctime format", "%(asctime)s %(levelname)s %(name)s: %(message)s", 2.0),
        ("basic format, info", logging.BASIC_FORMAT, None),
    ):
        formatter = logging.Formatter(fmt)

        def records() -> list[logging.LogRecord]:
            return [
                logging.LogRecord(
                    "app.db",
                    logging.INFO,
                    __file__,
                    10,
                    "connected to %s as user %s after %d retries (pool %s)",
                    ("db.internal.example:5432", "app_user", i, "primary"),
                    None,
                )  # fmt: skip
                for i in range(RECORDS_PER_BATCH)
            ]

        def plain(formatter: logging.Formatter = formatter) -> float:
            batch = records()
            start = time.perf_counter()
            for record in batch:
                formatter.format(record)
            return (time.perf_counter() - start) / RECORDS_PER_BATCH

        def filtered(formatter: logging.Formatter = formatter) -> float:
            batch = records()
            start = time.perf_counter()
            for record in batch:
                flt.filter(record)
                formatter.format(record)
            return (time.perf_counter() - start) / RECORDS_PER_BATCH

        result = interleaved_medians({"plain": plain, "filtered": filtered}, rounds)
        rows.append(
            (f"log record, 100 values ({label})", result["filtered"], result["plain"], target)
        )
    stop_redacting()
    return rows


def bench_resolve(rounds: int) -> list[tuple[str, float, float, float | None]]:
    from secure_secrets import SecureSecretsManager, resolve_references

    setup = SecureSecretsManager()
    names = [f"app/secret_{i:03d}" for i in range(N)]
    for name in names:
        setup.store_secret(name, secrets.token_urlsafe(24))
    setup.close()
    mapping = {f"VAR_{i:03d}": f"ss:{name}" for i, name in enumerate(names)}
    warm = SecureSecretsManager()
    warm.retrieve_secret(names[0])  # unlocked, backend open

    def by_name(manager: SecureSecretsManager) -> None:
        for name in names:
            manager.retrieve_secret(name)

    def fresh(fn: Callable[[SecureSecretsManager], object]) -> Callable[[], object]:
        def run() -> None:
            with SecureSecretsManager() as manager:
                fn(manager)

        return run

    result = interleaved_medians(
        {
            "warm retrieve": timed(lambda: by_name(warm)),
            "warm resolve": timed(lambda: resolve_references(mapping, warm)),
            "cold retrieve": timed(fresh(by_name)),
            "cold resolve": timed(fresh(lambda m: resolve_references(mapping, m))),
        },
        rounds,
    )
    return [
        ("resolve 100 refs vs 100 retrieve_secret (unlocked)",
         result["warm resolve"], result["warm retrieve"], 1.5),
        ("same, each with a new manager (one unlock)",
         result["cold resolve"], result["cold retrieve"], 1.5),
    ]  # fmt: skip


def bench_run(rounds: int, workdir: Path) -> list[tuple[str, float, float, float | None]]:
    names = [f"app/secret_{i:03d}" for i in range(N)]
    env_file = workdir / "refs.env"
    env_file.write_text("".join(f"VAR_{i:03d}=ss:{name}\n" for i, name in enumerate(names)))
    cli = [sys.executable, "-c", MAIN, "run"]
    by_name = cli + [arg for name in names for arg in ("--only", name)] + ["--", "true"]
    by_ref = cli + ["--env-file", str(env_file), "--", "true"]

    def command(argv: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(argv, check=True, capture_output=True)  # noqa: S603

    result = interleaved_medians(
        {"by name": timed(command(by_name)), "by reference": timed(command(by_ref))}, rounds
    )
    return [
        ("run --env-file 100 refs vs run --only x100",
         result["by reference"], result["by name"], 1.3),
    ]  # fmt: skip


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cli-rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for var in [v for v in os.environ if v.startswith("SECURE_SECRETS_")]:
            del os.environ[var]
        for xdg, sub in (("CONFIG", "config"), ("DATA", "data"), ("STATE", "state")):
            os.environ[f"XDG_{xdg}_HOME"] = str(home / sub)
        rows = bench_logging(args.rounds)
        rows += bench_resolve(args.rounds)
        rows += bench_run(args.cli_rounds, home)
    print(f"{'measure':58} {'ours':>10} {'floor':>10} {'ratio':>7}  target  result")
    missed = 0
    for label, ours, floor, target in rows:
        ratio = ours / floor
        ok = target is None or round(ratio, 2) <= target
        missed += not ok
        print(
            f"{label:58} {fmt(ours):>10} {fmt(floor):>10} {ratio:>6.2f}x"
            + (f"  <= {target:g}x  {'pass' if ok else 'MISS'}" if target else "  (info)")
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
