"""The alerts sink: real event sequences through a manager, asserting which rules fire."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import AccessDeniedError, ConfigError, SecretNotFoundError


def manager_with(home: Path, alerts: str) -> tuple[SecureSecretsManager, object]:
    config = home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[audit]\nsinks = ["jsonl", "alerts"]\n[audit.alerts]\n{alerts}\n')
    manager = SecureSecretsManager(config_path=config)
    sink = next(sink for name, sink, _ in manager.assembly.audit_trail()._sinks if name == "alerts")
    return manager, sink


def test_repeated_failures_fire_once_per_burst(isolated_home, caplog) -> None:
    manager, sink = manager_with(isolated_home, "failures_count = 3\nfailures_window = 60")
    for _ in range(2):
        with pytest.raises(SecretNotFoundError):
            manager.retrieve_secret("missing")
    assert sink.fired == []
    with pytest.raises(SecretNotFoundError), caplog.at_level("WARNING"):
        manager.retrieve_secret("missing")
    assert [a.rule for a in sink.fired] == ["failures"] and len(sink.fired[0].event_ids) == 3
    assert "ALERT failures" in caplog.text
    manager.store_secret("ok", "v")  # successes do not count
    assert len(sink.fired) == 1


def test_denied_accesses_count_as_failures(isolated_home) -> None:
    manager, sink = manager_with(isolated_home, "failures_count = 2")
    manager.store_secret("payroll/db", "v")
    handle = manager.scoped("billing/", read_only=True)
    for _ in range(2):
        with pytest.raises(AccessDeniedError):
            handle.retrieve_secret("payroll/db")
    assert [a.rule for a in sink.fired] == ["failures"]


def test_many_distinct_reads_fire_but_rereads_do_not(isolated_home) -> None:
    manager, sink = manager_with(isolated_home, "distinct_reads_count = 3")
    for i in range(5):
        manager.store_secret(f"s{i}", "v")
    for _ in range(10):
        manager.retrieve_secret("s0")
        manager.retrieve_secret("s1")
    assert sink.fired == []
    manager.retrieve_secret("s2")
    manager.retrieve_secret("s3")
    assert [a.rule for a in sink.fired] == ["distinct_reads"]


def test_sensitive_names_and_stale_keys(isolated_home) -> None:
    manager, sink = manager_with(isolated_home, 'sensitive = ["prod/", "root"]')
    manager.store_secret("prod/db", "v")
    manager.store_secret("dev/db", "v")
    manager.retrieve_secret("dev/db")
    assert [a.rule for a in sink.fired] == ["sensitive"]  # storing prod/db
    manager.retrieve_secret("prod/db")
    assert [a.rule for a in sink.fired] == ["sensitive", "sensitive"]  # and reading it
    # A value left under an old key (here: an old ciphertext put back after a rotation).
    store = isolated_home / "data" / "secure-secrets" / "store"
    before = {p: p.read_bytes() for p in store.glob("*.secret")}
    manager.rotate_encryption_key(keep_old_keys=1)
    for path, data in before.items():
        path.write_bytes(data)
    sink.fired.clear()
    manager.retrieve_secret("dev/db")
    assert [a.rule for a in sink.fired] == ["stale_key"]


def test_alerts_never_carry_values(isolated_home, caplog) -> None:
    manager, sink = manager_with(isolated_home, 'sensitive = ["prod/"]\nfailures_count = 1')
    with caplog.at_level("WARNING"):
        manager.store_secret("prod/db", "CANARY-VALUE-123")
        manager.retrieve_secret("prod/db")
        with pytest.raises(SecretNotFoundError):
            manager.retrieve_secret("prod/other")
    assert sink.fired and "CANARY-VALUE-123" not in caplog.text
    assert all("CANARY" not in alert.to_json() for alert in sink.fired)


def test_webhook_channel_posts_to_a_real_receiver(isolated_home) -> None:
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/alerts"
        manager, sink = manager_with(
            isolated_home, f'channel = "webhook"\nurl = "{url}"\nsensitive = ["prod/"]'
        )
        manager.store_secret("prod/db", "v")
    finally:
        server.shutdown()
    assert [alert["rule"] for alert in received] == ["sensitive"]
    assert received[0]["event_ids"] and "prod/db" in received[0]["message"]


@pytest.mark.slow
def test_command_channel_gets_the_alert_on_stdin(isolated_home, tmp_path) -> None:
    out = tmp_path / "alert.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    argv = json.dumps([sys.executable, "-c", script])
    manager, _ = manager_with(
        isolated_home, f'channel = "command"\ncommand = {argv}\nsensitive = ["prod/"]'
    )
    manager.store_secret("prod/db", "v")
    assert json.loads(out.read_text())["rule"] == "sensitive"


def test_a_plain_http_webhook_to_another_host_is_refused(isolated_home) -> None:
    with pytest.raises(ConfigError, match="https"):
        manager_with(isolated_home, 'channel = "webhook"\nurl = "http://alerts.example.com/x"')[
            0
        ].store_secret("a", "v")


def test_the_webhook_ignores_environment_proxies(isolated_home, monkeypatch) -> None:
    """Hardening issue, item 5: an HTTP(S)_PROXY from the environment used to see every alert."""
    hits: dict[str, int] = {"receiver": 0, "proxy": 0}

    def handler(name: str) -> type[BaseHTTPRequestHandler]:
        class Count(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hits[name] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Count

    servers = [HTTPServer(("127.0.0.1", 0), handler(n)) for n in ("receiver", "proxy")]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver, proxy = (f"http://127.0.0.1:{s.server_port}" for s in servers)
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    try:
        manager, _ = manager_with(
            isolated_home, f'channel = "webhook"\nurl = "{receiver}/a"\nsensitive = ["prod/"]'
        )
        manager.store_secret("prod/db", "v")
    finally:
        for server in servers:
            server.shutdown()
    assert hits == {"receiver": 1, "proxy": 0}
