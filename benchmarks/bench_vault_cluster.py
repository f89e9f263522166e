"""Vault on a 3-node OpenBao Raft cluster: read and write throughput through the manager
against raw hvac on the same node, at 1, 8 and 32 threads, and what read-your-writes costs
against the leader. Prints ratios measured in the same run (not a test; machines are noisy).

    .venv/bin/python benchmarks/bench_vault_cluster.py [--window 0.5] [--windows 3]

Targets (issue 22): manager throughput at least 1.0x raw hvac against the same node;
read-your-writes costs at most 10% of read throughput against the leader.

The cluster (``bao server`` x3, ``storage "raft"``, three voters, loopback ports) is the one
plugins/vault/tests/test_vault_ha.py starts; it is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAULT_TESTS = ROOT / "plugins" / "vault" / "tests"
VALUE = "x" * 64
THREADS = (1, 8, 32)


def interleaved(
    sides: dict[str, Callable[[int], object]], threads: int, windows: int, window: float
) -> dict[str, float]:
    """Each side's median throughput over ``windows`` alternating windows."""
    from bench_vault import throughput  # on sys.path once main() has run

    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(windows):
        for name, fn in sides.items():
            runs[name].append(throughput(fn, threads, window))
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=0.5, help="seconds per window")
    parser.add_argument("--windows", type=int, default=3, help="alternating windows per side")
    args = parser.parse_args()

    # The test suite's cluster and bench_vault's throughput loop, not copies (bench_vault.py
    # is in tests/ today and moves to benchmarks/, where this script's own directory is).
    sys.path[1:1] = [str(VAULT_TESTS), str(ROOT / "tests")]
    import hvac
    import requests
    from test_vault_ha import Cluster

    from conftest import _free_port_pair, bao_binary  # the test suite's cluster, not a copy
    from secure_secrets import SecureSecretsManager

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
            leader = cluster.leader()
            session = requests.Session()
            session.trust_env = False
            raw = hvac.Client(url=leader.url, token=cluster.token, session=session)
            kv = raw.secrets.kv.v2

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
                return kv.read_secret_version(path=f"bench/raw{i}", raise_on_deleted_version=True)[
                    "data"
                ]["data"]["value"]

            def raw_write(i: int) -> object:
                return kv.create_or_update_secret(path=f"bench/raw{i}", secret={"value": VALUE})

            print(f"3-node OpenBao Raft cluster, against the leader; ops/s, median of "
                  f"{args.windows} alternating {args.window} s windows")  # fmt: skip
            header = "op     threads    raw hvac     manager  ratio   manager+audit  ratio"
            print(header)
            for op in ("read", "write"):
                for threads in THREADS:
                    if op == "read":
                        sides = {
                            "raw": raw_read,
                            "ours": lambda i: ours.retrieve_secret(f"bench/ours{i}"),
                            "audited": lambda i: audited.retrieve_secret(f"bench/ours{i}"),
                        }
                    else:
                        sides = {
                            "raw": raw_write,
                            "ours": lambda i: ours.store_secret(f"bench/ours{i}", VALUE),
                            "audited": lambda i: audited.store_secret(f"bench/ours{i}", VALUE),
                        }
                    got = interleaved(sides, threads, args.windows, args.window)
                    print(
                        f"{op:<6} {threads:>7} {got['raw']:>11.0f} {got['ours']:>11.0f}"
                        f"  {got['ours'] / got['raw']:>4.2f}x {got['audited']:>14.0f}"
                        f"  {got['audited'] / got['raw']:>4.2f}x"
                    )
            print("\nread-your-writes against the leader (reads, 8 threads):")
            got = interleaved(
                {
                    "with": lambda i: ours.retrieve_secret(f"bench/ours{i}"),
                    "without": lambda i: plain.retrieve_secret(f"bench/ours{i}"),
                },
                8, args.windows, args.window,
            )  # fmt: skip
            cost = 1 - got["with"] / got["without"]
            print(
                f"  with {got['with']:.0f} ops/s, without {got['without']:.0f} ops/s: "
                f"ratio {got['with'] / got['without']:.2f}x, cost {cost * 100:+.1f}% "
                "(target: at most 10%)"
            )
            for m in (ours, audited, plain):
                m.close()
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
