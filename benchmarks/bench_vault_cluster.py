"""Vault on a 3-node OpenBao Raft cluster: read and write throughput through the manager
against raw hvac on the same node, at 1, 8 and 32 threads, and what read-your-writes costs
against the leader. Prints ratios measured in the same run (not a test; machines are noisy).

    .venv/bin/python benchmarks/bench_vault_cluster.py [--window 1.0] [--rounds 9]

Targets (issue 22): manager throughput (``audit_sinks = []``) at least 1.0x raw hvac against
the same node; read-your-writes costs at most 10% of read throughput against the leader
(``read_your_writes = true`` at least 0.9x ``false``). The manager with the default audit sink
is shown for information.

Each figure is a round-by-round comparison: in every round each side runs one window of
``--window`` seconds, the sides in turn (the order reversed every other round, so drift in the
machine's load hits both alike), and the ratio of that round is taken; the reported ratio is
the median over ``--rounds`` rounds (the ops/s shown are each side's median). Both sides hold
one shared client for all threads, as an application would, each with a keep-alive pool of 32
connections (raw hvac's ``requests`` session gets a 32-connection adapter, so that its default
pool of 10 does not throttle it at 32 threads).

The cluster (``bao server`` x3, ``storage "raft"``, three voters, loopback ports) is the one
plugins/vault/tests/test_vault_ha.py starts; it is stopped by PID at the end. The report's
``cluster`` section (``bench_report.py --only cluster``, opt-in) runs this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_common import Row
from bench_vault import throughput

ROOT = Path(__file__).resolve().parents[1]
VAULT_TESTS = ROOT / "plugins" / "vault" / "tests"
VALUE = "x" * 64
THREADS = (1, 8, 32)
POOL = 32
# (rounds, window seconds) per report level
LEVELS = {"full": (9, 1.0), "quick": (3, 0.5), "smoke": (1, 0.2)}


@dataclass(frozen=True)
class Figure:
    """One comparison: each side's median ops/s and the median of the per-round ratios
    ``side / base`` for every other side."""

    ops: dict[str, float]
    ratios: dict[str, float]


def compare_rounds(
    sides: dict[str, Callable[[int], object]], base: str, threads: int, rounds: int,
    window: float,
) -> Figure:  # fmt: skip
    runs: dict[str, list[float]] = {name: [] for name in sides}
    ratios: dict[str, list[float]] = {name: [] for name in sides if name != base}
    order = list(sides)
    for number in range(rounds):
        got = {}
        for name in order if number % 2 == 0 else reversed(order):
            got[name] = throughput(sides[name], threads, window)
            runs[name].append(got[name])
        for name in ratios:
            ratios[name].append(got[name] / got[base] if got[base] else float("inf"))
    return Figure(
        {name: statistics.median(values) for name, values in runs.items()},
        {name: statistics.median(values) for name, values in ratios.items()},
    )


def measure(rounds: int, window: float) -> list[Row]:
    """Start the cluster, measure against its leader, stop it; the rows of the report."""
    sys.path[1:1] = [str(VAULT_TESTS), str(ROOT / "tests")]
    import hvac
    import requests
    from requests.adapters import HTTPAdapter
    from test_vault_ha import Cluster

    from conftest import _free_port_pair, bao_binary  # the test suite's cluster, not a copy
    from secure_secrets import SecureSecretsManager

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            os.environ[var] = str(home / var.lower())
        for var in [v for v in os.environ if v.startswith(("VAULT_", "SECURE_SECRETS_"))]:
            del os.environ[var]
        cluster = Cluster(home / "raft", bao_binary(), _free_port_pair)
        try:
            cluster.start()
            cluster.wait("a healthy cluster", cluster.healthy)
            cluster.wait("the KV mount to be ready on every node", cluster.kv_ready)
            leader = cluster.leader()
            session = requests.Session()
            session.trust_env = False
            session.mount("http://", HTTPAdapter(pool_maxsize=POOL))
            kv = hvac.Client(url=leader.url, token=cluster.token, session=session).secrets.kv.v2

            def manager(audit: bool, read_your_writes: bool = True) -> SecureSecretsManager:
                options = {"addresses": [leader.url], "vault_token": cluster.token,
                           "read_your_writes": read_your_writes}  # fmt: skip
                extra = {} if audit else {"audit_sinks": []}
                return SecureSecretsManager(
                    default_backend="vault", backends={"vault": options}, **extra
                )

            ours, audited = manager(audit=False), manager(audit=True)
            plain = manager(audit=False, read_your_writes=False)
            for i in range(max(THREADS)):
                kv.create_or_update_secret(path=f"bench/raw{i}", secret={"value": VALUE})
                ours.store_secret(f"bench/ours{i}", VALUE)
            time.sleep(0.5)  # let the standbys catch up before anything is timed

            def raw_read(i: int) -> object:
                answer = kv.read_secret_version(path=f"bench/raw{i}", raise_on_deleted_version=True)
                return answer["data"]["data"]["value"]

            def raw_write(i: int) -> object:
                return kv.create_or_update_secret(path=f"bench/raw{i}", secret={"value": VALUE})

            sides: dict[str, dict[str, Callable[[int], object]]] = {
                "read": {
                    "raw": raw_read,
                    "ours": lambda i: ours.retrieve_secret(f"bench/ours{i}"),
                    "audited": lambda i: audited.retrieve_secret(f"bench/ours{i}"),
                },
                "write": {
                    "raw": raw_write,
                    "ours": lambda i: ours.store_secret(f"bench/ours{i}", VALUE),
                    "audited": lambda i: audited.store_secret(f"bench/ours{i}", VALUE),
                },
                "read-your-writes": {
                    "without": lambda i: plain.retrieve_secret(f"bench/ours{i}"),
                    "with": lambda i: ours.retrieve_secret(f"bench/ours{i}"),
                },
            }
            for op, contenders in sides.items():
                for threads in THREADS:
                    base = "without" if op == "read-your-writes" else "raw"
                    figure = compare_rounds(contenders, base, threads, rounds, window)
                    rows += rows_of(op, threads, figure)
                    print(f"  {op}, {threads} threads: {figure}", file=sys.stderr, flush=True)
            for m in (ours, audited, plain):
                m.close()
        finally:
            cluster.stop()
    return rows


def rows_of(op: str, threads: int, figure: Figure) -> list[Row]:
    def ops(value: float) -> str:
        return f"{value:,.0f} ops/s"

    def row(name: str, side: str, base: str, label: str, at_least: float | None) -> Row:
        ratio = figure.ratios[side]
        ok = None if at_least is None else round(ratio, 2) >= at_least
        target = "" if at_least is None else f">= {at_least:g}x"
        return Row("cluster", name, ops(figure.ops[side]), f"{ops(figure.ops[base])} ({label})",
                   ratio, target, ok)  # fmt: skip

    if op == "read-your-writes":
        return [row(f"read-your-writes cost, reads, {threads} threads", "with", "without",
                    "read_your_writes = false", 0.9)]  # fmt: skip
    return [
        row(f"{op}, {threads} threads: manager, audit_sinks=[]", "ours", "raw", "hvac", 1.0),
        row(f"{op}, {threads} threads: manager, default audit", "audited", "raw", "hvac", None),
    ]


def report_rows(level: str) -> list[Row]:
    return measure(*LEVELS[level])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--window", type=float, default=1.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (one window per side)")
    parser.add_argument("--markdown", action="store_true", help="print the rows as Markdown")
    args = parser.parse_args()
    rows = measure(args.rounds, args.window)
    from bench_common import render

    print(f"3-node OpenBao Raft cluster, against the leader; median of {args.rounds} rounds "
          f"of {args.window} s windows per side, ratio = median of per-round ratios")  # fmt: skip
    print(render(rows, markdown=args.markdown))


if __name__ == "__main__":
    main()
