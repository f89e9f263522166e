"""High availability on a real 3-node OpenBao Raft cluster on loopback (config files, init,
unseal, join): a writer keeps writing through the backend while the active node is killed
with SIGKILL. Every acknowledged write is readable afterwards, and writes resume within the
retry budget."""

from __future__ import annotations

import os
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

from secrets_core.errors import SecretsError


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


@pytest.fixture
def raft_cluster(tmp_path: Path, bao_path: str, free_port_pair) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, bao_path, free_port_pair)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.slow
def test_acknowledged_writes_survive_killing_the_leader(raft_cluster: Cluster) -> None:
    backend = VaultBackend.from_options(
        {
            "addresses": [n.url for n in raft_cluster.nodes],
            "vault_token": raft_cluster.token,
            "timeout": 2.0,
            "max_retries": 100,
            "retry_budget": 30.0,
        }
    )
    acknowledged: dict[str, str] = {}
    failures: list[str] = []
    after_kill: list[str] = []
    killed = threading.Event()
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            name, value = f"ha/w{i:05d}", f"value-{i}"
            try:
                backend.write(name, value)
            except SecretsError as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
            else:
                acknowledged[name] = value
                if killed.is_set():
                    after_kill.append(name)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(1.0)
        leader = raft_cluster.leader()
        before = len(acknowledged)
        leader.kill(signal.SIGKILL)
        killed.set()
        deadline = time.monotonic() + 30
        while len(after_kill) < 20 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=60)

    assert before > 0, "writes were acknowledged before the kill"
    assert not failures, f"writes failed beyond the retry budget: {failures[:3]}"
    assert len(after_kill) >= 20, "writes resumed after the leader was killed"
    reader = VaultBackend.from_options(
        {
            "addresses": [n.url for n in raft_cluster.nodes if n is not leader],
            "vault_token": raft_cluster.token,
            "max_retries": 50,
            "retry_budget": 30.0,
        }
    )
    print(f"HA: {before} writes before the kill, {len(acknowledged)} acknowledged in all")
    lost = [name for name, value in acknowledged.items() if reader.read(name) != value]
    assert not lost, f"acknowledged writes lost after the failover: {lost[:5]}"
