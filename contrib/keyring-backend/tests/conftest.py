"""Fixtures of the keyring backend's tests: a real OpenBao dev server (the Vault tests' own
helper, loaded from plugins/vault/tests/conftest.py), the audit log, the environment of the
real tools and a loopback package index demanding basic auth."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import sys
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from secure_secrets import SecureSecretsManager

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "keyring_backend_vault_conftest", REPO / "plugins" / "vault" / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
vault_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = vault_conftest  # dataclasses look their module up
_spec.loader.exec_module(vault_conftest)


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A ``bao server -dev`` on a free loopback port, stopped by its PID."""
    server = vault_conftest.BaoServer(tmp_path_factory.mktemp("bao-keyring")).start()
    try:
        yield server
    finally:
        server.stop()


TOKEN_VARIABLE = "KEYRING_TEST_BAO_TOKEN"


@pytest.fixture(scope="class")
def vault_config(bao, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """A config file selecting the Vault backend on a fresh KV v2 mount of ``bao``. The token
    is referenced by a variable (set for the class), never written to the file."""
    mount = f"kr-{uuid.uuid4().hex[:10]}"
    bao.admin().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    config = tmp_path_factory.mktemp("vault-config") / "config.toml"
    config.write_text(
        'default_backend = "vault"\n[backends.vault]\n'
        f'vault_url = "{bao.url}"\nvault_token = {{ env = "{TOKEN_VARIABLE}" }}\n'
        f'mount_point = "{mount}"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_VARIABLE, bao.token)
        yield config


@pytest.fixture
def audit_events() -> Callable[[], list[dict[str, Any]]]:
    """``audit_events()``: the events of the default audit log (JSON lines), oldest first."""

    def read() -> list[dict[str, Any]]:
        log = SecureSecretsManager().settings.log_dir / "audit.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()]

    return read


# --- real tools ---------------------------------------------------------------------------------

SELECT = "secure_secrets_keyring_backend.SecureSecretsKeyring"


@pytest.fixture
def tool_env(tmp_path: Path) -> dict[str, str]:
    """For keyring's CLI and pip: this process's environment (the isolated XDG dirs) with our
    backend selected, its own HOME, and nothing of the developer's keyring or pip config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "KEYRING_", "PYTHON_KEYRING"))
    }
    env.update(HOME=str(tmp_path), PYTHON_KEYRING_BACKEND=SELECT, PIP_CONFIG_FILE=os.devnull)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


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
    files["kr_probe-0.1.dist-info/RECORD"] = (
        "\n".join([*record, "kr_probe-0.1.dist-info/RECORD,,"]) + "\n"
    ).encode()
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
    """A loopback package index serving one wheel (``kr-probe`` 0.1) only to requests whose
    Authorization header is ``index.expected``; ``index.seen`` logs (path, let in)."""
    server = Index(("127.0.0.1", 0), IndexHandler)
    server.wheel = build_wheel(tmp_path)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
