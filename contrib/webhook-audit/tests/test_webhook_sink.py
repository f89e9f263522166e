"""The webhook sink against a real HTTP receiver on 127.0.0.1, through the manager and its
config file: fail closed when required, best effort otherwise, and never a value."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from secure_secrets_webhook import plugin
from secure_secrets_webhook.sink import WebhookSink

from secrets_core.config import resolve_options
from secrets_core.errors import AuditError, ConfigError, SecretNotFoundError
from secrets_core.plugin import PluginContext
from secrets_core.testing import AuditSinkContract
from secure_secrets import SecureSecretsManager

CANARY = "canary-webhook-Pq93-value"
TOKEN = "receiver-token-should-not-leak"


class Receiver:
    """A real HTTP server in a thread that records each POSTed body. ``status`` is what it
    answers; ``headers`` the last request's headers."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.heads = 0
        self.status = 204
        self.headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(self.rfile.read(length))
                receiver.headers = dict(self.headers)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802
                receiver.heads += 1
                self.send_response(receiver.status if receiver.status >= 500 else 405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/audit/events"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )  # poll often: shutdown() waits up to one poll interval
        self.thread.start()

    def events(self) -> list[dict[str, object]]:
        return [json.loads(body) for body in self.bodies]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def down_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/audit/events"


def make(**options: object) -> WebhookSink:
    spec = plugin.secrets_register_audit_sinks()[0]
    resolved = resolve_options(spec.options, options, "[audit.webhook]")
    sink = spec.make(resolved, PluginContext(Path("."), Path(".")))
    assert isinstance(sink, WebhookSink)
    return sink


def write_config(tmp_path: Path, url: str, required: bool) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"
            [audit]
            sinks = ["webhook"]
            [audit.webhook]
            required = {str(required).lower()}
            url = "{url}"
            timeout = 2
            token = {{ env = "WEBHOOK_TEST_TOKEN" }}
            """
        )
    )
    return config


class TestWebhookSinkContract(AuditSinkContract):
    @pytest.fixture
    def sink(self, receiver: Receiver) -> WebhookSink:
        return make(url=receiver.url)

    @pytest.fixture
    def recorded(self, receiver: Receiver) -> Callable[[], str]:
        return lambda: "\n".join(body.decode() for body in receiver.bodies)

    @pytest.fixture
    def unreachable_sink(self) -> WebhookSink:
        with socket.socket() as probe:  # a loopback port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return make(url=f"http://127.0.0.1:{port}/audit", timeout=2)


@pytest.mark.slow
def test_events_reach_the_receiver_as_json_without_values(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_TOKEN", TOKEN)
    manager = SecureSecretsManager(config_path=write_config(tmp_path, receiver.url, True))
    stored = manager.store_secret("app/api_key", CANARY)
    assert manager.retrieve_secret("app/api_key") == CANARY
    manager.store_secret("app/api_key", CANARY.encode() + b"-bytes")
    manager.rotate_encryption_key()
    manager.delete_secret("app/api_key")
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("app/api_key")
    manager.close()

    events = receiver.events()
    assert [(e["operation"], e["outcome"]) for e in events] == [
        ("store", "success"),
        ("retrieve", "success"),
        ("store", "success"),
        ("rotate", "success"),
        ("delete", "success"),
        ("retrieve", "failure"),
    ]
    assert events[0]["event_id"] == stored.event_id
    assert events[0]["secret_name"] == "app/api_key" and events[0]["backend"] == "file"
    assert events[-1]["error_type"] == "SecretNotFoundError"
    assert receiver.headers["Authorization"] == f"Bearer {TOKEN}"
    assert receiver.headers["Content-Type"] == "application/json"
    assert receiver.heads >= 3, "a required sink is checked before each change"
    everything = b"\n".join(receiver.bodies)
    assert CANARY.encode() not in everything, "an audit event must never contain a value"
    assert TOKEN.encode() not in everything


def test_required_sink_down_refuses_the_change_and_changes_nothing(
    tmp_path: Path, down_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_TOKEN", TOKEN)
    manager = SecureSecretsManager(config_path=write_config(tmp_path, down_url, True))
    with pytest.raises(AuditError, match="nothing was changed") as info:
        manager.store_secret("app/api_key", CANARY)
    assert CANARY not in str(info.value) and TOKEN not in str(info.value)
    with pytest.raises(AuditError):
        manager.delete_secret("app/api_key")

    unaudited = SecureSecretsManager(data_dir=tmp_path / "data", audit_sinks=["logging"])
    assert unaudited.list_secrets() == [], "the refused store wrote nothing"
    unaudited.store_secret("app/existing", "v")
    with pytest.raises(AuditError):
        manager.delete_secret("app/existing")
    assert unaudited.retrieve_secret("app/existing") == "v", "the refused delete kept it"
    with pytest.raises(AuditError, match="withheld"):
        manager.retrieve_secret("app/existing")  # a read that cannot be audited fails closed


def test_best_effort_sink_down_lets_the_operation_succeed(
    tmp_path: Path, down_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_TOKEN", TOKEN)
    manager = SecureSecretsManager(config_path=write_config(tmp_path, down_url, False))
    event = manager.store_secret("app/api_key", CANARY)
    assert event.outcome == "success"
    assert manager.retrieve_secret("app/api_key") == CANARY
    assert "webhook" in caplog.text, "the failed delivery is logged"
    assert CANARY not in caplog.text and TOKEN not in caplog.text


@pytest.mark.slow
def test_receiver_errors_fail_a_required_sink(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_TOKEN", TOKEN)
    manager = SecureSecretsManager(config_path=write_config(tmp_path, receiver.url, True))
    receiver.status = 503
    with pytest.raises(AuditError):
        manager.store_secret("app/api_key", CANARY)
    receiver.status = 204
    manager.store_secret("app/api_key", CANARY)
    assert manager.retrieve_secret("app/api_key") == CANARY


@pytest.mark.slow
def test_non_2xx_answer_raises_with_the_host_only(receiver: Receiver) -> None:
    from secrets_core.audit import AuditEvent

    receiver.status = 400
    sink = make(url=receiver.url + "?token=" + TOKEN)
    with pytest.raises(AuditError, match="HTTP 400") as info:
        sink.emit(AuditEvent(operation="store", backend="file", secret_name="x", outcome="success"))
    assert "127.0.0.1" in str(info.value) and TOKEN not in str(info.value)
    sink.check()  # 400 < 500: the receiver is up


@pytest.mark.parametrize(
    "url",
    ["http://audit.example.com/events", "http://10.0.0.5/x", "ftp://127.0.0.1/x", "not a url"],
)
def test_plain_http_is_only_allowed_to_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="https"):
        make(url=url)


@pytest.mark.parametrize(
    "url", ["https://audit.example.com/e", "http://[::1]:9/e", "http://localhost/e"]
)
def test_https_and_loopback_urls_are_accepted(url: str) -> None:
    assert make(url=url).host in url


def test_url_is_required() -> None:
    with pytest.raises(ConfigError, match="'url'"):
        make()


def test_https_verifies_the_certificate(receiver: Receiver) -> None:
    """A plain-HTTP server behind an https:// URL fails the TLS handshake: no event sent."""
    from secrets_core.audit import AuditEvent

    url = receiver.url.replace("http://127.0.0.1", "https://127.0.0.1")
    with pytest.raises(AuditError, match="unreachable"):
        make(url=url, timeout=2).emit(
            AuditEvent(operation="store", backend="file", secret_name="x", outcome="success")
        )
    assert receiver.bodies == []


@pytest.mark.slow
def test_registering_does_not_import_urllib_request() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from secure_secrets_webhook import plugin;"
        "plugin.secrets_register_audit_sinks();"
        "assert 'secure_secrets_webhook.sink' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
