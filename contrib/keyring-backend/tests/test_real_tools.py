"""Real tools through the backend: keyring's own CLI, and pip's keyring support fetching from
a loopback index that demands basic auth."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets_keyring_backend import SecureSecretsKeyring, secret_name

pytestmark = pytest.mark.slow
SELECT = "secure_secrets_keyring_backend.SecureSecretsKeyring"


def tool_env(home: Path) -> dict[str, str]:
    """This process's environment (the isolated XDG dirs) with our backend selected, its own
    HOME, and nothing of the developer's keyring or pip configuration."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "KEYRING_", "PYTHON_KEYRING"))
    }
    env.update(HOME=str(home), PYTHON_KEYRING_BACKEND=SELECT, PIP_CONFIG_FILE=os.devnull)
    return env


def audit_events() -> list[dict[str, object]]:
    log = SecureSecretsManager().settings.log_dir / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def keyring_cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyring", *args],
        input=stdin, env=tool_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_keyring_cli_set_get_delete(tmp_path: Path) -> None:
    service, password = "https://upload.pypi.example/legacy/", f"pypi-{uuid.uuid4().hex}"
    stored = keyring_cli(tmp_path, "set", service, "__token__", stdin=password + "\n")
    assert stored.returncode == 0, stored.stderr
    got = keyring_cli(tmp_path, "get", service, "__token__")
    assert (got.returncode, got.stdout) == (0, password + "\n")
    creds = keyring_cli(tmp_path, "--mode", "creds", "--output", "json", "get", service)
    assert json.loads(creds.stdout) == {"username": "__token__", "password": password}
    # The same store as this process's, and every access audited with the CLI's own pid.
    assert SecureSecretsKeyring().get_password(service, "__token__") == password
    assert keyring_cli(tmp_path, "del", service, "__token__").returncode == 0
    missing = keyring_cli(tmp_path, "get", service, "__token__")
    assert (missing.returncode, missing.stdout) == (1, "")
    events = [e for e in audit_events() if e["secret_name"] == secret_name(service, "__token__")]
    by_operation = [(e["operation"], e["outcome"]) for e in events]
    assert by_operation[:3] == [("store", "success"), ("retrieve", "success"), ("retrieve", "success")]
    assert ("purge", "success") in by_operation
    pids = {e["actor"]["pid"] for e in events}  # type: ignore[index]
    assert len(pids) >= 5 and os.getpid() in pids  # set, get, creds, del, get: five processes
    for result in (stored, got, creds, missing):
        assert password not in result.stderr


# --- pip against a loopback index with basic auth -----------------------------------------------


def build_wheel(folder: Path) -> Path:
    """A minimal valid wheel of the project ``kr-probe`` 0.1, written by hand."""
    files = {
        "kr_probe/__init__.py": b"VERSION = '0.1'\n",
        "kr_probe-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: kr-probe\nVersion: 0.1\n",
        "kr_probe-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip('=')},{len(data)}"
        for path, data in files.items()
    ]
    files["kr_probe-0.1.dist-info/RECORD"] = ("\n".join([*record, "kr_probe-0.1.dist-info/RECORD,,"]) + "\n").encode()
    wheel = folder / "kr_probe-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


class Index(ThreadingHTTPServer):
    wheel: Path
    expected: str  # the Authorization header that is let in
    seen: list[tuple[str, bool]]


class IndexHandler(BaseHTTPRequestHandler):
    server: Index

    def do_GET(self) -> None:  # noqa: N802
        allowed = self.headers.get("Authorization") == self.server.expected
        self.server.seen.append((self.path, allowed))
        if not allowed:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name = self.server.wheel.name
        if self.path.rstrip("/") == "/simple/kr-probe":
            body = f'<html><body><a href="/files/{name}">{name}</a></body></html>'.encode()
            kind = "text/html"
        elif self.path == f"/files/{name}":
            body = self.server.wheel.read_bytes()
            kind = "application/octet-stream"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    server = Index(("127.0.0.1", 0), IndexHandler)
    server.wheel = build_wheel(tmp_path)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_pip_finds_the_index_credential_through_the_backend(tmp_path: Path, index: Index) -> None:
    password = f"index-{uuid.uuid4().hex}"
    index.expected = "Basic " + base64.b64encode(f"ci:{password}".encode()).decode()
    index_url = f"http://127.0.0.1:{index.server_port}/simple/"
    SecureSecretsKeyring().set_password(index_url, "ci", password)
    out = tmp_path / "out"
    pip = [
        sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--keyring-provider", "import", "-d", str(out),
        "--index-url", f"http://ci@127.0.0.1:{index.server_port}/simple/", "kr-probe",
    ]  # fmt: skip
    result = subprocess.run(pip, env=tool_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / index.wheel.name).read_bytes() == index.wheel.read_bytes()
    assert ("/simple/kr-probe/", True) in index.seen
    assert password not in result.stdout + result.stderr
    reads = [
        e for e in audit_events()
        if e["operation"] == "retrieve" and e["secret_name"] == secret_name(index_url, "ci")
    ]  # fmt: skip
    assert reads and reads[0]["outcome"] == "success"
    assert reads[0]["actor"]["pid"] != os.getpid()  # type: ignore[index]  # pip's own process


def test_without_the_credential_pip_is_refused(tmp_path: Path, index: Index) -> None:
    """The control: the same command with nothing stored fails at the index."""
    index.expected = "Basic " + base64.b64encode(b"ci:not-stored").decode()
    pip = [
        sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--keyring-provider", "import", "-d", str(tmp_path / "o"),
        "--no-input", "--index-url", f"http://ci@127.0.0.1:{index.server_port}/simple/", "kr-probe",
    ]  # fmt: skip
    result = subprocess.run(pip, env=tool_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert not any(allowed for _path, allowed in index.seen)
