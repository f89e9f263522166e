"""One operation never spends more than its time budget (connect, read, retries and backoff
included), against a real OpenBao server that is stopped with SIGSTOP; errors name the node
that really failed, a redirect target included; a write whose answer was lost is settled by
reading it back instead of being repeated (no duplicate version)."""

from __future__ import annotations

import http.server
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from secure_secrets_vault.backend import VaultBackend
from secure_secrets_vault.errors import WriteOutcomeUnknownError

from secrets_core.errors import BackendUnavailableError

SLACK = 1.5  # seconds: a behaviour bound (Python, thread start-up, a noisy 2-CPU machine)
make_backend = VaultBackend.from_options


@pytest.fixture
def hung_server(bao_factory) -> Iterator[object]:
    """A dev server of its own, stopped (SIGSTOP) once the test has set up: it accepts TCP
    connections (the kernel does) and never answers. Continued (SIGCONT) at teardown."""
    server = bao_factory().start()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)


def stop(server) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP the server and wait until every one of its threads has stopped: the signal is
    delivered asynchronously, and a fast client could otherwise still get an answer."""
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while not all(_stopped(task) for task in os.scandir(f"/proc/{pid}/task")):
        assert time.monotonic() < deadline, "the server did not stop"
        time.sleep(0.01)


def _stopped(task: os.DirEntry[str]) -> bool:
    try:
        stat = open(f"{task.path}/stat", encoding="ascii").read()  # noqa: SIM115
    except FileNotFoundError:
        return True  # the thread has exited
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


@pytest.mark.slow
@pytest.mark.parametrize(("timeout", "budget"), [(2.0, 3.0), (10.0, 2.0), (1.0, 3.5)])
def test_a_hung_server_blocks_no_longer_than_the_budget(
    hung_server, unique: str, timeout: float, budget: float
) -> None:
    backend = make_backend(hung_server.options(timeout=timeout, retry_budget=budget))
    backend.write(f"{unique}/k", "v")  # authenticated, KV version known, connection pooled
    stop(hung_server)
    for call in (lambda: backend.read(f"{unique}/k"), lambda: backend.write(f"{unique}/k", "w")):
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="timed out"):
            call()
        elapsed = time.monotonic() - started
        assert elapsed <= budget + SLACK, f"blocked {elapsed:.1f} s with a {budget} s budget"


@pytest.mark.slow
def test_a_fresh_client_spends_its_budget_on_authentication_too(hung_server) -> None:
    stop(hung_server)
    backend = make_backend(hung_server.options(timeout=2.0, retry_budget=3.0))
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        backend.read("k")  # lookup-self, KV version detection and the read share 3 s
    assert time.monotonic() - started <= 3.0 + SLACK


@pytest.mark.slow
def test_threads_each_name_the_node_that_failed(hung_server, vault_server) -> None:
    """Two dead nodes (one refuses, one hangs), sixteen threads: every error names a node that
    failed for that call, never one chosen by another thread."""
    stop(hung_server)
    refused = "http://127.0.0.1:1"
    backend = make_backend(
        {"addresses": [refused, hung_server.url], "vault_token": "t", "timeout": 0.3,
         "retry_budget": 1.0, "kv_version": 2}
    )  # fmt: skip
    messages: list[str] = []

    def worker() -> None:
        try:
            backend.read("k")
        except BackendUnavailableError as exc:
            messages.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(messages) == 16
    for message in messages:
        if "timed out" in message:
            assert hung_server.url in message, message
        else:
            assert "cannot connect" in message and refused in message, message


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    """A node that redirects every request to a dead address (as a standby that does not
    forward redirects to the active node it knows of)."""
    handler = type("Handler", (_Redirect,), {"target": "http://127.0.0.1:9"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_error_names_the_redirect_target_that_failed(redirecting: str) -> None:
    backend = make_backend(
        {"vault_url": redirecting, "vault_token": "t", "retry_budget": 0.5, "kv_version": 2}
    )
    with pytest.raises(BackendUnavailableError) as info:
        backend.read("k")
    assert "http://127.0.0.1:9 (redirected from " + redirecting in str(info.value)


class _LoseAnswers(http.server.BaseHTTPRequestHandler):
    """Forwards each request to the real server, then hangs up instead of answering: the
    request is applied, the client never learns it."""

    upstream = ""
    lost: list[str]

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-vault")}
        requests.request(
            self.command, self.upstream + self.path, data=body, headers=headers, timeout=5
        )
        self.lost.append(f"{self.command} {self.path}")
        self.close_connection = True  # no response at all: the client sees the connection drop

    do_GET = do_POST = do_PUT = _forward  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class _ForwardThenRedirect(_LoseAnswers):
    """Like a standby whose forwarding failed after the leader had committed: the request is
    applied, then the client is redirected to the (dead) leader."""

    def _forward(self) -> None:
        super()._forward()
        self.send_response(307)
        self.send_header("Location", "http://127.0.0.1:9" + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _forward  # noqa: N815


@pytest.fixture(params=[_LoseAnswers, _ForwardThenRedirect], ids=["lost", "redirected"])
def lossy(vault_server, request) -> Iterator[tuple[str, list[str]]]:
    lost: list[str] = []
    attrs = {"upstream": vault_server.url, "lost": lost}
    handler = type("Handler", (request.param,), attrs)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", lost
    server.shutdown()


def test_a_write_whose_answer_was_lost_is_settled_not_repeated(
    vault_server, lossy: tuple[str, list[str]], unique: str
) -> None:
    url, lost = lossy
    name = f"{unique}/once"
    backend = make_backend(
        {"addresses": [url, vault_server.url], "vault_token": vault_server.token,
         "kv_version": 2, "retry_budget": 5.0}
    )  # fmt: skip
    backend.client._authenticated = True  # skip the token lookup, so the write goes first
    backend.client._set_token(vault_server.token)
    assert backend.write(name, "v1") == 1
    assert lost == [f"POST /v1/secret/data/{name}"], "the first attempt landed, its answer lost"
    meta = vault_server.admin().secrets.kv.v2.read_secret_metadata(name)["data"]
    assert meta["current_version"] == 1, "the retry did not write a duplicate version"


def test_a_write_that_cannot_be_settled_says_its_outcome_is_unknown(
    vault_server, lossy: tuple[str, list[str]], unique: str
) -> None:
    url, lost = lossy
    backend = make_backend(
        {"vault_url": url, "vault_token": vault_server.token, "kv_version": 2,
         "retry_budget": 1.0}
    )  # fmt: skip
    backend.client._authenticated = True
    backend.client._set_token(vault_server.token)
    with pytest.raises(WriteOutcomeUnknownError, match="may or may not have been applied"):
        backend.write(f"{unique}/unknown", "v1")
    assert isinstance(WriteOutcomeUnknownError("x"), BackendUnavailableError)


class _RateLimitOnce(http.server.BaseHTTPRequestHandler):
    """Answers the first request 429 with ``Retry-After: 1``, forwards the others to the real
    server; records when each request arrived."""

    upstream = ""
    arrivals: list[float]

    def do_GET(self) -> None:  # noqa: N802
        self.arrivals.append(time.monotonic())
        if len(self.arrivals) == 1:
            body = b'{"errors":["rate limit quota exceeded"]}'
            self.send_response(429)
            self.send_header("Retry-After", "1")
        else:
            headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-vault")}
            answer = requests.get(self.upstream + self.path, headers=headers, timeout=5)
            body = answer.content
            self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_retry_after_on_429_is_honoured(vault_server, unique: str) -> None:
    arrivals: list[float] = []
    handler = type(
        "Handler", (_RateLimitOnce,), {"upstream": vault_server.url, "arrivals": arrivals}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        make_backend(vault_server.options()).write(f"{unique}/k", "v")
        backend = make_backend(
            {"vault_url": f"http://127.0.0.1:{server.server_address[1]}",
             "vault_token": vault_server.token, "kv_version": 2}
        )  # fmt: skip
        backend.client._authenticated = True  # the read is the first request
        backend.client.hvac.token = vault_server.token
        assert backend.read(f"{unique}/k") == "v"
    finally:
        server.shutdown()
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.95, "the retry waited for Retry-After (1 s)"
