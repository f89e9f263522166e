"""The performance report: every benchmark in one run, one table of ratios against floors and
peers measured in that same run (issue 9). See docs/performance.md.

    .venv/bin/python benchmarks/bench_report.py              # full run, 5-9 minutes on 2 vCPUs
    .venv/bin/python benchmarks/bench_report.py --quick      # a sanity run, about 1 minute
    .venv/bin/python benchmarks/bench_report.py --markdown   # the table as Markdown

Sections (``--only`` / ``--skip`` take a comma-separated subset):

* file     -- benchmarks/bench_file.py: get and set against their floors at 10, 1,000, 10,000 and
              100,000 secrets stored, and how the ratio scales; the manager for reference.
* peers    -- keyrings.alt and keyrings.cryptfile next to ours at 10 and 1,000 secrets
              (measured in the file section's run; absent peers are reported, not fatal).
* audit    -- benchmarks/bench_audit.py: the default-config (audited) get and set against floors
              doing the same work by hand: read + Fernet decrypt (or durable write) + one event,
              HMAC-chained and appended under flock.
* rotation -- benchmarks/bench_crypto.py: rotating 10,000 secrets against as many durable
              rewrites of the store's own files; envelope seal/open against raw Fernet.
* env      -- benchmarks/bench_env.py: env-backend get against Fernet decrypt + os.environ lookup.
* vault    -- benchmarks/bench_vault.py: read, write, 8-thread throughput and import cost against
              raw hvac on an OpenBao dev server started (and stopped) for the run.
* references -- benchmarks/bench_references.py: the log-redaction filter against formatting
  alone, resolving 100 references against 100 retrieves, and ``run --env-file`` with 100
  references against ``run --only`` x100.
* cli      -- benchmarks/bench_cli.py: cold ``secure-secrets get`` in a regular (non-editable)
              install against ``python -c`` importing exactly the libraries ``get`` needs
              and against ``bao kv get`` (interleaved; medians of per-round ratios).
* cluster  -- benchmarks/bench_vault_cluster.py: read and write throughput at 1, 8 and 32
              threads against raw hvac, and the cost of read-your-writes, on a 3-node OpenBao
              Raft cluster started (and stopped) for the run. Slow (3-4 minutes in a full
              run), so opt-in: ``--only cluster``, or ``--with cluster`` to add it to a run.

Each section runs in its own interpreter (its own temporary home, no state shared between
benchmarks, one at a time so they do not compete for the CPUs) and hands its rows back as
JSON. Exit status: 0 when every section ran (a missed target is reported in the table, not in
the exit status, unless ``--strict``), 2 when a section failed to run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import Row, render  # noqa: E402

SECTIONS = ("file", "peers", "audit", "rotation", "env", "vault", "cli", "references", "cluster")
OPT_IN = ("cluster",)  # slow: run only when named in --only or --with
LEVELS = ("full", "quick", "smoke")
# Rotation count and env rounds, CLI rounds per level.
ROTATE = {"full": 10_000, "quick": 1_000, "smoke": 50}
ENV_ROUNDS = {"full": 20_000, "quick": 3_000, "smoke": 500}
CLI_RUNS = {"full": 21, "quick": 7, "smoke": 2}
# Audited gets and sets (interleaved with their floors).
AUDIT_COUNTS = {"full": (3000, 300), "quick": (800, 100), "smoke": (200, 30)}


def measure_section(section: str, level: str, sizes: list[int] | None) -> list[Row]:
    """Run one section in this interpreter. ``file`` also measures the peers (and ``peers``
    alone runs the file section at the peers' sizes, since they are shown next to ours)."""
    if section in ("file", "peers", "file+peers"):
        import bench_file

        if section == "peers" and sizes is None:
            sizes = [10, 1000] if level != "smoke" else [10]
        return bench_file.report_rows(level, sizes, peers=section != "file")
    if section == "audit":
        import bench_audit

        return bench_audit.measure(*AUDIT_COUNTS[level])
    if section == "rotation":
        import bench_crypto

        return bench_crypto.report_rows(ROTATE[level] - 1)  # +1 seed secret
    if section == "env":
        import bench_env

        return bench_env.report_rows(ENV_ROUNDS[level])
    if section == "vault":
        import bench_vault

        return bench_vault.report_rows(level)
    if section == "cli":
        import bench_cli

        return bench_cli.report_rows(CLI_RUNS[level])
    if section == "references":
        import bench_references

        return bench_references.report_rows(level)
    if section == "cluster":
        import bench_vault_cluster

        return bench_vault_cluster.report_rows(level)
    raise ValueError(section)


def child(section: str, level: str, sizes: list[int] | None, out: Path) -> None:
    """The child's side: a private home, the section's rows written to ``out`` as JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-report-") as home:
        for var in [v for v in os.environ if v.startswith(("SECURE_SECRETS_", "VAULT_", "BAO_"))]:
            del os.environ[var]
        for xdg in ("CONFIG", "DATA", "STATE", "CACHE"):
            os.environ[f"XDG_{xdg}_HOME"] = str(Path(home) / xdg.lower())
        rows = measure_section(section, level, sizes)
    out.write_text(json.dumps([row.to_json() for row in rows]), encoding="utf-8")


def run_child(
    section: str, level: str, sizes: list[int] | None, log: Callable[[str], None]
) -> tuple[list[Row], str | None]:
    """Run a section in a fresh interpreter: its rows and None, or no rows and the tail of
    its stderr."""
    with tempfile.TemporaryDirectory(prefix="bench-report-out-") as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", section,
                   "--level", level, "--out", str(out)]  # fmt: skip
        if sizes:
            command += ["--sizes", ",".join(map(str, sizes))]
        proc = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        tail: collections.deque[str] = collections.deque(maxlen=15)

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip())
                log(f"  [{section}] {line.rstrip()}")

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        code = proc.wait()
        reader.join()
        if code != 0 or not out.exists():
            return [], "\n".join(tail) or f"exit status {code}"
        return [Row.from_json(data) for data in json.loads(out.read_text("utf-8"))], None


def revision() -> str:
    """The git commit measured, with ``-dirty`` when the tree has uncommitted changes."""
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=HERE, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs"
        + (f" ({cpu})" if cpu else "")
        + f", Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--quick", action="store_true", help="sanity run, smaller counts (~1 min)")
    level.add_argument(
        "--smoke", action="store_true", help="tiny counts: checks the harness, figures meaningless"
    )
    parser.add_argument("--only", help=f"comma-separated sections from {','.join(SECTIONS)}")
    parser.add_argument("--skip", help="comma-separated sections to leave out")
    parser.add_argument("--with", dest="extra", help=f"opt-in sections to add: {','.join(OPT_IN)}")
    parser.add_argument("--sizes", help="file section: comma-separated store sizes")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any target is missed")
    parser.add_argument("--child", choices=SECTIONS + ("file+peers",), help=argparse.SUPPRESS)
    parser.add_argument("--level", choices=LEVELS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None

    if args.child:
        child(args.child, args.level, sizes, Path(args.out))
        return 0

    run_level = "quick" if args.quick else "smoke" if args.smoke else "full"
    default = [s for s in SECTIONS if s not in OPT_IN]
    chosen = [s.strip() for s in args.only.split(",")] if args.only else default
    chosen += [s.strip() for s in args.extra.split(",")] if args.extra else []
    skipped = {s.strip() for s in args.skip.split(",")} if args.skip else set()
    unknown = sorted((set(chosen) | skipped) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {SECTIONS}")
    chosen = [s for s in SECTIONS if s in chosen and s not in skipped]
    # file and peers share one run (the peers are shown next to ours at the same size).
    jobs = [s for s in chosen if s not in ("file", "peers")]
    if "file" in chosen or "peers" in chosen:
        both = "file" in chosen and "peers" in chosen
        jobs.insert(0, "file+peers" if both else ("file" if "file" in chosen else "peers"))

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = load_average()
    rows: list[Row] = []
    failures: list[tuple[str, str]] = []
    for job in jobs:
        log(f"{job}: running ({time.perf_counter() - started:.0f} s elapsed)")
        job_rows, error = run_child(job, run_level, sizes, log)
        if error is not None:
            failures.append((job, error))
            message = error.splitlines()[-1]
            message = message if len(message) <= 70 else message[:67] + "..."
            rows.append(Row(job, "section failed to run (see stderr)", "-", message, None,
                            "runs", False))  # fmt: skip
        rows += [row for row in job_rows if row.section in chosen or row.section not in SECTIONS]
    total = time.perf_counter() - started

    judged = [row for row in rows if row.ok is not None]
    missed = [row for row in judged if not row.ok]
    print(
        f"secure-secrets performance report: {run_level} run, {stamp}, {total:.0f} s, "
        f"commit {revision()}\n"
        f"machine: {machine()}; 1-minute load average {load_before} at the start, "
        f"{load_average()} at the end\n"
        "ratio = ours / floor (or peer), both measured in this run; "
        f"{len(judged) - len(missed)} of {len(judged)} targets met\n"
    )
    print(render(rows, markdown=args.markdown))
    for job, error in failures:
        print(f"\n{job} failed:\n{error}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"level": run_level, "date": stamp, "machine": machine(), "seconds": total,
                 "commit": revision(), "rows": [row.to_json() for row in rows]},
                indent=1,
            ),
            encoding="utf-8",
        )  # fmt: skip
    if failures:
        return 2
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
