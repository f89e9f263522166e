"""High availability on a real 3-node OpenBao Raft cluster on loopback (config files, init,
unseal, join, three voters), through the manager with the configuration docs/vault.md
documents for a cluster:

- read-your-writes: through a standby (which answers reads itself, behind the leader), a
  store followed by a retrieve never sees older data, and a check-and-set loop converges;
- failover: several writer threads and a reader keep working while the active node is killed
  with SIGKILL and later restarted, over several trials; the test counts and prints
  acknowledged writes lost (must be 0), duplicate versions, failed-but-applied writes, errors
  callers saw, stale reads (must be 0) and the time until writes succeed again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from secure_secrets_vault.backend import VaultBackend

from secrets_core.errors import ConflictError, SecretNotFoundError, SecretsError
from secure_secrets import SecureSecretsManager


@dataclass
class Node:
    name: str
    workdir: Path
    api_port: int
    binary: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.hcl"
        config.write_text(
            f"""
storage "raft" {{
  path = "{data}"
  node_id = "{self.name}"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{self.api_port}"
  cluster_address = "127.0.0.1:{self.api_port + 1}"
  tls_disable = true
}}
api_addr = "{self.url}"
cluster_addr = "https://127.0.0.1:{self.api_port + 1}"
disable_mlock = true
"""
        )
        return config

    def start(self) -> None:
        config = self.write_config()
        log = open(self.workdir / "bao.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(  # noqa: S603
            [self.binary, "server", f"-config={config}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))},
                "HOME": str(self.workdir),
            },
            cwd=self.workdir,
        )
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=15)


class Cluster:
    def __init__(self, root: Path, binary: str, free_port_pair) -> None:  # type: ignore[no-untyped-def]
        self.nodes = []
        for i in range(3):
            self.nodes.append(Node(f"node{i + 1}", root / f"node{i + 1}", free_port_pair(), binary))
        self.http = requests.Session()
        self.http.trust_env = False
        self.token = ""
        self.key = ""

    def call(self, node: Node, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"X-Vault-Token": self.token} if self.token else {}
        return self.http.request(
            method, f"{node.url}/v1/{path}", headers=headers, timeout=5, **kwargs
        )

    def wait(self, what: str, check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        logs = "\n".join(
            (n.workdir / "bao.log").read_text()[-1500:]
            for n in self.nodes
            if (n.workdir / "bao.log").exists()
        )
        raise RuntimeError(f"cluster: timed out waiting for {what}\n{logs}")

    def health(self, node: Node) -> int:
        return self.call(node, "GET", "sys/health").status_code

    def start(self) -> None:
        first, *others = self.nodes
        for node in self.nodes:
            node.start()
        self.wait("node1 to listen", lambda: self.health(first) in (501, 503))
        init = self.call(first, "PUT", "sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        init.raise_for_status()
        self.key = init.json()["keys"][0]
        self.token = init.json()["root_token"]
        self.call(first, "PUT", "sys/unseal", json={"key": self.key}).raise_for_status()
        self.wait("node1 to become active", lambda: self.health(first) == 200)
        self.call(
            first,
            "POST",
            "sys/storage/raft/autopilot/configuration",
            json={"server_stabilization_time": "1s", "cleanup_dead_servers": False},
        )
        for node in others:
            self.wait(f"{node.name} to listen", lambda n=node: self.health(n) in (501, 503))
            joined = self.call(
                node, "POST", "sys/storage/raft/join", json={"leader_api_addr": first.url}
            )
            joined.raise_for_status()
            self.call(node, "PUT", "sys/unseal", json={"key": self.key}).raise_for_status()
            self.wait(
                f"{node.name} to be an unsealed standby", lambda n=node: self.health(n) == 429
            )
        self.wait("three voters", self.three_voters)
        self.call(
            first, "POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}}
        )

    def three_voters(self) -> bool:
        answer = self.call(self.nodes[0], "GET", "sys/storage/raft/configuration").json()
        servers = answer["data"]["config"]["servers"]
        return len(servers) == 3 and all(s["voter"] for s in servers)

    def healthy(self) -> bool:
        """Every node up and unsealed, one active, and three voters."""
        codes = sorted(self.health(n) for n in self.nodes)
        return codes == [200, 429, 429] and self.three_voters()

    def kv_ready(self) -> bool:
        """The new KV v2 mount has finished upgrading on every node (until then a standby
        answers 400 "waiting for the primary to upgrade")."""
        return all(self.call(n, "GET", "secret/data/none").status_code == 404 for n in self.nodes)

    def restart(self, node: Node) -> None:
        """Start a killed node again on its data; unseal it; wait until it has rejoined."""
        node.start()
        self.wait(f"{node.name} to listen", lambda: self.health(node) in (501, 503))
        self.call(node, "PUT", "sys/unseal", json={"key": self.key}).raise_for_status()
        self.wait("the cluster to be whole again", self.healthy)

    def standbys(self) -> list[Node]:
        leader = self.leader()
        return [n for n in self.nodes if n is not leader]

    def leader(self) -> Node:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                try:
                    if self.health(node) == 200:
                        return node
                except requests.RequestException:
                    continue
        raise RuntimeError("no active node")

    def stop(self) -> None:
        for node in self.nodes:
            node.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def raft_cluster(
    tmp_path_factory: pytest.TempPathFactory, bao_path: str, free_port_pair
) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("raft"), bao_path, free_port_pair)
    try:
        cluster.start()
        cluster.wait("a healthy cluster", cluster.healthy)
        cluster.wait("the KV mount to be ready on every node", cluster.kv_ready)
        yield cluster
    finally:
        cluster.stop()


def documented(cluster: Cluster, nodes: list[Node] | None = None) -> dict[str, object]:
    """The cluster configuration of docs/vault.md ("Running against a cluster"): every node
    listed, everything else default."""
    return {"addresses": [n.url for n in nodes or cluster.nodes], "vault_token": cluster.token}


def manager_for(options: dict[str, object]) -> SecureSecretsManager:
    return SecureSecretsManager(default_backend="vault", backends={"vault": options})


@pytest.mark.slow
def test_a_store_then_retrieve_through_a_standby_never_sees_older_data(raft_cluster) -> None:
    standby = raft_cluster.standbys()[0]
    manager = manager_for(documented(raft_cluster, [standby]))
    stale: list[str] = []
    for i in range(100):
        manager.store_secret("ryw/one", f"value-{i}")
        try:
            seen = manager.retrieve_secret("ryw/one")
        except SecretNotFoundError:
            seen = "<not found>"
        if seen != f"value-{i}":
            stale.append(f"{i}: {seen}")
        manager.store_secret(f"ryw/new-{i}", "fresh")  # a new name: not found when stale
        try:
            manager.retrieve_secret(f"ryw/new-{i}")
        except SecretNotFoundError:
            stale.append(f"new-{i}: not found")
    manager.close()
    print(f"read-your-writes through a standby: {len(stale)} stale reads of 200")
    assert not stale, f"{len(stale)} of 200 reads saw older data: {stale[:5]}"


@pytest.mark.slow
def test_a_check_and_set_loop_through_a_standby_converges(raft_cluster) -> None:
    standby = raft_cluster.standbys()[-1]
    manager = manager_for(documented(raft_cluster, [standby]))
    manager.store_secret("ryw/counter", "0")
    conflicts = 0
    for _ in range(50):
        current = manager.secret_metadata("ryw/counter").current_version
        value = int(manager.retrieve_secret("ryw/counter"))
        try:
            manager.store_secret("ryw/counter", str(value + 1), cas=current)
        except ConflictError:
            conflicts += 1
    assert manager.retrieve_secret("ryw/counter") == str(50 - conflicts)
    manager.close()
    print(f"check-and-set through a standby: {conflicts} spurious conflicts of 50")
    assert conflicts == 0, "a lone writer's check-and-set never conflicts with itself"


@dataclass
class Trial:
    acknowledged: dict[str, str]
    versions: dict[str, int]
    failed: list[str]
    errors: list[str]
    stale: list[str]
    recovery: float
    slowest: float


def run_trial(cluster: Cluster, manager: SecureSecretsManager, trial: int) -> Trial:
    """Four writers (each name written once, read back at once) and a reader (reads back
    random acknowledged names) while the leader is killed; until writes have worked again
    for a second."""
    lock = threading.Lock()
    acknowledged: dict[str, str] = {}
    versions: dict[str, int] = {}
    failed: list[str] = []
    errors: list[str] = []
    stale: list[str] = []
    started_after_kill: list[float] = []  # completion times of writes begun after the kill
    slowest = [0.0]
    killed_at = [0.0]
    stop = threading.Event()

    def writer(w: int) -> None:
        i = 0
        while not stop.is_set():
            name, value = f"ha/t{trial}/w{w}/{i:05d}", f"value-{trial}-{w}-{i}"
            begin = time.monotonic()
            try:
                event = manager.store_secret(name, value)
            except SecretsError as exc:
                with lock:
                    failed.append(name)
                    errors.append(f"store {name}: {type(exc).__name__}: {exc}")
            else:
                done = time.monotonic()
                with lock:
                    acknowledged[name] = value
                    versions[name] = int(event.details.get("version") or 0)
                    slowest[0] = max(slowest[0], done - begin)
                    if killed_at[0] and begin > killed_at[0]:
                        started_after_kill.append(done)
                check(name, value)
            i += 1

    def check(name: str, value: str) -> None:
        try:
            seen = manager.retrieve_secret(name)
        except SecretNotFoundError:
            seen = "<not found>"
        except SecretsError as exc:
            with lock:
                errors.append(f"retrieve {name}: {type(exc).__name__}: {exc}")
            return
        if seen != value:
            with lock:
                stale.append(f"{name}: {seen}")

    def reader() -> None:
        while not stop.is_set():
            with lock:
                names = list(acknowledged.items())
            if names:
                check(*random.choice(names))  # noqa: S311
            time.sleep(0.005)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        leader = cluster.leader()
        leader.kill(signal.SIGKILL)
        killed_at[0] = time.monotonic()
        deadline = killed_at[0] + 30
        while time.monotonic() < deadline:
            with lock:
                resumed = started_after_kill[0] if started_after_kill else 0.0
            if resumed and time.monotonic() > resumed + 1.0:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    recovery = (started_after_kill[0] - killed_at[0]) if started_after_kill else float("inf")
    cluster.restart(leader)
    return Trial(acknowledged, versions, failed, errors, stale, recovery, slowest[0])


@pytest.mark.slow
def test_failover_under_load_loses_nothing_and_callers_see_no_error(raft_cluster) -> None:
    manager = manager_for(documented(raft_cluster))
    results = [run_trial(raft_cluster, manager, trial) for trial in range(3)]
    manager.close()

    checker = manager_for({**documented(raft_cluster), "retry_budget": 30.0})
    admin = VaultBackend.from_options({**documented(raft_cluster), "retry_budget": 30.0})
    rows = []
    for n, r in enumerate(results):
        lost = [k for k, v in r.acknowledged.items() if checker.retrieve_secret(k) != v]
        duplicates = [k for k in r.acknowledged if admin.current_version(k) > 1]
        duplicates += [k for k, v in r.versions.items() if v > 1]
        applied = [k for k in r.failed if admin._metadata_or_none(k) is not None]
        rows.append((n, len(r.acknowledged), len(lost), len(set(duplicates)), len(applied),
                     len(r.errors), len(r.stale), r.recovery, r.slowest))  # fmt: skip
        assert not lost, f"trial {n}: acknowledged writes lost: {lost[:5]}"
        assert not r.stale, f"trial {n}: stale reads: {r.stale[:5]}"
    checker.close()
    print("\nfailover (leader SIGKILLed under 4 writers + 1 reader, then restarted):")
    print("trial  acked  lost  dup  failed-but-applied  errors  stale  resume_s  slowest_s")
    for row in rows:
        print("{:>5}  {:>5}  {:>4}  {:>3}  {:>18}  {:>6}  {:>5}  {:>8.2f}  {:>9.2f}".format(*row))
    for r in results:
        for line in r.errors[:3]:
            print("  error:", line)
    assert all(row[5] == 0 for row in rows), "callers saw errors during an election"
    assert all(row[3] == 0 for row in rows), "retried writes created duplicate versions"
    assert all(r.recovery < 15 for r in results), "writes resumed within the budget"
