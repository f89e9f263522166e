"""Issue 17, items 4-6 and 8: an off-host anchor against rollback, rotation that keeps the
chain verifiable, sinks whose failures say why, and doctor's view of the audit state."""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from secrets_core.audit import AuditEvent, AuditTrail, JsonlSink
from secrets_core.cli import errors as exit_codes
from secrets_core.cli.app import cli
from secrets_core.errors import AuditError
from secrets_core.plugin import PluginContext
from secure_secrets import SecureSecretsManager


def log_dir(home: Path) -> Path:
    return home / "state" / "secure-secrets" / "log"


def write_config(home: Path, text: str) -> Path:
    config = home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return config


# --- 4. rollback and the off-host anchor ----------------------------------------------------


def test_a_rollback_passes_locally_and_fails_against_a_saved_head(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    older = isolated_home / "older"
    shutil.copytree(log_dir(isolated_home), older)  # the attacker's copy of the old state
    manager.retrieve_secret("team/db")
    manager.delete_secret("team/db")
    runner = CliRunner()
    head = runner.invoke(cli, ["audit", "anchor"]).output.strip()
    assert head.startswith("3:") and len(head) == 2 + 64, head

    shutil.rmtree(log_dir(isolated_home))
    shutil.copytree(older, log_dir(isolated_home))  # log truncated, older checkpoint back
    assert manager.verify_audit_log().ok  # undetectable locally, as documented
    result = manager.verify_audit_log(anchor=head)
    assert not result.ok and result.reason == "head_missing", result
    done = runner.invoke(cli, ["audit", "verify", "--anchor", head])
    assert done.exit_code == exit_codes.INTEGRITY and "rolled back" in done.output
    assert runner.invoke(cli, ["audit", "verify", "--anchor", "nonsense"]).exit_code == 2


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    delay = 0.0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        time.sleep(self.delay)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "delay": 0.0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/audit", handler
    server.shutdown()
    server.server_close()


def test_checkpoints_reach_external_sinks(isolated_home, receiver) -> None:
    url, handler = receiver
    write_config(
        isolated_home, f'[audit]\nsinks = ["jsonl", "webhook"]\n[audit.webhook]\nurl = "{url}"\n'
    )
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    manager.retrieve_secret("team/db")
    manager.close()  # a checkpoint goes out when the trail closes
    checkpoints = [e for e in handler.received if e["operation"] == "checkpoint"]
    assert len(checkpoints) == 1 and checkpoints[0]["details"]["seq"] == 2
    head = f"{checkpoints[0]['details']['seq']}:{checkpoints[0]['details']['mac']}"
    assert SecureSecretsManager().verify_audit_log(anchor=head).ok


# --- 6. diagnosable sinks -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_sink_that_is_down_says_why_and_the_operation_goes_on(isolated_home, caplog) -> None:
    url = f"http://127.0.0.1:{free_port()}/audit"  # nothing listens
    write_config(
        isolated_home, f'[audit]\nsinks = ["jsonl", "webhook"]\n[audit.webhook]\nurl = "{url}"\n'
    )
    with caplog.at_level(logging.ERROR, logger="secrets_core.audit"):
        SecureSecretsManager().store_secret("team/db", "v1")
    failures = [r.getMessage() for r in caplog.records if "webhook" in r.getMessage()]
    assert failures and "AuditError: " in failures[0], failures
    assert "ConnectionRefusedError" in failures[0], failures


def test_a_slow_sink_times_out_with_its_reason(isolated_home, receiver, caplog) -> None:
    url, handler = receiver
    handler.delay = 2.0
    write_config(
        isolated_home,
        f'[audit]\nsinks = ["jsonl", "webhook"]\n[audit.webhook]\nurl = "{url}"\ntimeout = 0.3\n',
    )
    with caplog.at_level(logging.ERROR, logger="secrets_core.audit"):
        SecureSecretsManager().store_secret("team/db", "v1")
    failures = [r.getMessage() for r in caplog.records if "webhook" in r.getMessage()]
    assert failures and "TimeoutError" in failures[0], failures


class ThirdPartySink:
    """A sink from another distribution that raises its own exception type."""

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event: AuditEvent) -> None:
        self.calls += 1
        raise RuntimeError(
            "cannot reach udp 127.0.0.1:5515 (ECONNREFUSED)\x1b[31m via https://u:pw@relay/"
            + "x" * 500
        )

    def check(self) -> None:
        self.emit(AuditEvent("check", None, None, "success"))

    def close(self) -> None:
        pass


def test_a_sink_raising_its_own_error_is_reported_with_its_reason(isolated_home, caplog) -> None:
    context = PluginContext(data_dir=isolated_home / "d", log_dir=isolated_home / "l")
    jsonl = JsonlSink({}, context)
    trail = AuditTrail([("jsonl", jsonl, True), ("udp", ThirdPartySink(), True)])
    with (
        caplog.at_level(logging.ERROR, logger="secrets_core.audit"),
        pytest.raises(AuditError) as raised,
    ):
        trail.emit(AuditEvent("retrieve", "file", "team/db", "success"), change=False)
    message = str(raised.value)
    assert "cannot reach udp 127.0.0.1:5515 (ECONNREFUSED)" in message
    assert "value read is withheld" in message and "change" not in message
    assert "\x1b" not in message and "pw@" not in message and len(message) < 600
    logged = caplog.records[0].getMessage()
    assert "RuntimeError: cannot reach udp" in logged and "\x1b" not in logged
    assert trail.check() == [("udp", trail.check()[0][1])]
    assert (isolated_home / "l" / "audit.jsonl").exists()  # the other sink still recorded


def test_doctor_checks_each_sink_and_does_not_blame_the_backend(isolated_home) -> None:
    url = f"http://127.0.0.1:{free_port()}/audit"
    write_config(
        isolated_home,
        f'[audit]\nsinks = ["jsonl", "webhook"]\n[audit.webhook]\nurl = "{url}"\nrequired = true\n',
    )
    SecureSecretsManager(audit_sinks=["jsonl"]).store_secret("team/db", "v1")
    done = CliRunner().invoke(cli, ["doctor", "--json"])
    checks = {c["check"]: c for c in json.loads(done.output)["checks"]}
    assert checks["backend file"]["ok"], checks["backend file"]
    assert not checks["audit sink webhook"]["ok"]
    assert "ConnectionRefused" in checks["audit sink webhook"]["problem"]
    assert checks["audit sink jsonl"]["ok"]


# --- 8. doctor reports the audit state ------------------------------------------------------


def test_doctor_reports_the_audit_state(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    key_file = isolated_home / "data" / "secure-secrets" / "master.key"
    key_file.chmod(0o644)
    with pytest.raises(Exception):
        SecureSecretsManager().retrieve_secret("team/db")
    key_file.chmod(0o600)
    done = CliRunner().invoke(cli, ["doctor", "--json"])
    note = {c["check"]: c for c in json.loads(done.output)["checks"]}["audit log"]["note"]
    assert "1 chained, anchored" in note and "1 written without the audit key" in note, note
    assert "last verified head 1:" in note
    lines = (log_dir(isolated_home) / "audit.jsonl").read_bytes().splitlines(keepends=True)
    (log_dir(isolated_home) / "audit.jsonl").write_bytes(lines[-1])  # the chained line gone
    done = CliRunner().invoke(cli, ["doctor", "--json"])
    audit = {c["check"]: c for c in json.loads(done.output)["checks"]}["audit log"]
    assert not audit["ok"] and "log_replaced" in audit["problem"], audit


# --- 5. rotation ----------------------------------------------------------------------------


def test_built_in_rotation_keeps_one_verifiable_chain(isolated_home) -> None:
    write_config(isolated_home, "[audit.jsonl]\nrotate_bytes = 1500\n")
    manager = SecureSecretsManager()
    for i in range(12):
        manager.store_secret(f"team/s{i}", "v")
    files = sorted(p.name for p in log_dir(isolated_home).iterdir())
    assert len([f for f in files if f.startswith("audit.jsonl.2")]) >= 2, files
    result = manager.verify_audit_log()
    assert result.ok and result.chained == 12 and result.files >= 3, result
    rotated = sorted(log_dir(isolated_home).glob("audit.jsonl.2*"))
    rotated[1].unlink()  # a rotated file lost from the middle
    assert manager.verify_audit_log().reason == "sequence"


def test_an_external_logrotate_rename_is_followed(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    live = log_dir(isolated_home) / "audit.jsonl"
    live.rename(live.with_name("audit.jsonl.1"))  # logrotate's default rename (create mode)
    manager.retrieve_secret("team/db")  # the same process, its descriptor on the old file
    SecureSecretsManager().retrieve_secret("team/db")
    assert live.exists() and len(live.read_text().splitlines()) == 2
    result = manager.verify_audit_log()
    assert result.ok and result.chained == 3 and result.files == 2, result


APPEND = """
import sys
from secure_secrets import SecureSecretsManager
manager = SecureSecretsManager()
for i in range(int(sys.argv[1])):
    manager.retrieve_secret("team/db")
"""


@pytest.mark.slow
def test_concurrent_writers_across_rotations_and_a_sigkill(isolated_home) -> None:
    write_config(isolated_home, "[audit.jsonl]\nrotate_bytes = 4000\n")
    SecureSecretsManager().store_secret("team/db", "v1")
    workers = [subprocess.Popen([sys.executable, "-c", APPEND, "30"]) for _ in range(3)]
    victim = subprocess.Popen([sys.executable, "-c", APPEND, "100000"])
    time.sleep(1.5)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    SecureSecretsManager().retrieve_secret("team/db")
    result = SecureSecretsManager().verify_audit_log()
    assert result.ok and result.files > 2, result
    assert result.chained >= 1 + 3 * 30 + 1, result
