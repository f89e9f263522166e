"""The client's per-call cost (issue 22, performance): on a busy machine, Vault throughput
through the backend is limited by the client's CPU per call as much as by the server. Raw
hvac spends about as much of it in ``requests.Session`` machinery as in the HTTP exchange;
the backend's transport (``secure_secrets_vault.transport``) talks to urllib3 directly.

Measured here as Python function calls per operation, counted by the profiler: a
deterministic count, not a time (speed itself is shown by benchmarks/bench_vault.py and
benchmarks/bench_vault_cluster.py). The backend's read and write, everything included
(retries bookkeeping, budget, read-your-writes, decoding, settling), must cost well under
raw hvac's ``read_secret_version`` / ``create_or_update_secret`` on the same server, and
must not grow with the number of calls (no per-call leak of state).
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from pathlib import Path

import pytest
from secure_secrets_vault.backend import VaultBackend

CALLS = 50
AT_MOST = 0.75  # ours / raw hvac, in Python function calls per operation (measured: ~0.55)


def calls_per_op(fn: Callable[[], object], count: int = CALLS) -> float:
    for _ in range(5):
        fn()  # warm: authenticated, KV version known, connection pooled
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        fn()
    profile.disable()
    return float(pstats.Stats(profile).total_calls) / count  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("op", ["read", "write"])
def test_a_call_costs_less_client_work_than_raw_hvac(vault_server, unique: str, op: str) -> None:
    backend = VaultBackend.from_options(vault_server.options(mount_point="secret"))
    kv = vault_server.admin().secrets.kv.v2
    kv.create_or_update_secret(path=f"{unique}/raw", secret={"value": "x" * 64})
    backend.write(f"{unique}/ours", "x" * 64)
    try:
        if op == "read":
            ours = calls_per_op(lambda: backend.read(f"{unique}/ours"))
            raw = calls_per_op(
                lambda: kv.read_secret_version(path=f"{unique}/raw", raise_on_deleted_version=True)
            )
        else:
            ours = calls_per_op(lambda: backend.write(f"{unique}/ours", "x" * 64))
            raw = calls_per_op(
                lambda: kv.create_or_update_secret(path=f"{unique}/raw", secret={"value": "x" * 64})
            )
        print(f"{op}: {ours:.0f} function calls per op, raw hvac {raw:.0f}: {ours / raw:.2f}x")
        assert ours <= AT_MOST * raw, (op, ours, raw)
        # The same per call over 4x as many calls: nothing accumulates per call.
        read_more = calls_per_op(lambda: backend.read(f"{unique}/ours"), CALLS * 4)
        assert read_more <= calls_per_op(lambda: backend.read(f"{unique}/ours")) * 1.05
    finally:
        backend.close()


@pytest.mark.slow
def test_a_request_to_a_configured_node_is_routed_by_a_dict_lookup(vault_server, unique) -> None:
    """Every verb goes to a configured node's own keep-alive pool, found by a dict lookup:
    no PoolManager work per request (it parses the URL once more, builds a pool key and takes
    its pool container's lock, which all 32 threads of a busy client queue on). The
    PoolManager is left for redirect targets that are not configured
    (test_vault_redirects.py follows those)."""
    backend = VaultBackend.from_options(vault_server.options(mount_point="secret"))
    name = f"{unique}/routed"
    verbs: list[Callable[[], object]] = [
        lambda: backend.write(name, "x" * 64),
        lambda: backend.read(name),
        lambda: backend.list_names(f"{unique}/"),
        lambda: backend.metadata(name),
        lambda: backend.delete(name),
    ]
    try:
        for verb in verbs:
            verb()  # warm: authenticated, KV version known
        profile = cProfile.Profile()
        profile.enable()
        for verb in verbs:
            verb()
        profile.disable()
        called = {
            "/".join(Path(path).parts[-2:]) + f":{function}"
            for path, _line, function in pstats.Stats(profile).stats  # type: ignore[attr-defined]
        }
        routing = sorted(c for c in called if c.startswith("urllib3/poolmanager.py"))
        assert routing == [], routing
        assert any(c.startswith("urllib3/connectionpool.py:urlopen") for c in called)
    finally:
        backend.close()
