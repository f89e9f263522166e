"""Real tools through the backend: keyring's own CLI, and pip's keyring support fetching from
a loopback index that demands basic auth."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from secure_secrets_keyring_backend import SecureSecretsKeyring, secret_name

pytestmark = pytest.mark.slow


def test_keyring_cli_set_get_delete(tool_env: dict[str, str], audit_events: Any) -> None:
    def keyring_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keyring", *args],
            input=stdin, env=tool_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    service, password = "https://upload.pypi.example/legacy/", f"pypi-{uuid.uuid4().hex}"
    stored = keyring_cli("set", service, "__token__", stdin=password + "\n")
    assert stored.returncode == 0, stored.stderr
    got = keyring_cli("get", service, "__token__")
    assert (got.returncode, got.stdout) == (0, password + "\n")
    creds = keyring_cli("--mode", "creds", "--output", "json", "get", service)
    assert json.loads(creds.stdout) == {"username": "__token__", "password": password}
    # The same store as this process's, and every access audited with the CLI's own pid.
    assert SecureSecretsKeyring().get_password(service, "__token__") == password
    assert keyring_cli("del", service, "__token__").returncode == 0
    missing = keyring_cli("get", service, "__token__")
    assert (missing.returncode, missing.stdout) == (1, "")
    events = [e for e in audit_events() if e["secret_name"] == secret_name(service, "__token__")]
    by_operation = [(e["operation"], e["outcome"]) for e in events]
    assert by_operation[:3] == [
        ("store", "success"),
        ("retrieve", "success"),
        ("retrieve", "success"),
    ]
    assert ("purge", "success") in by_operation
    pids = {e["actor"]["pid"] for e in events}  # type: ignore[index]
    assert len(pids) >= 5 and os.getpid() in pids  # set, get, creds, del, get: five processes
    for result in (stored, got, creds, missing):
        assert password not in result.stderr


# --- pip against a loopback index with basic auth -----------------------------------------------


def test_pip_finds_the_index_credential_through_the_backend(
    tmp_path: Path, index: Any, tool_env: dict[str, str], audit_events: Any
) -> None:
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
    result = subprocess.run(pip, env=tool_env, capture_output=True, text=True, timeout=300)
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


def test_without_the_credential_pip_is_refused(
    tmp_path: Path, index: Any, tool_env: dict[str, str]
) -> None:
    """The control: the same command with nothing stored fails at the index."""
    index.expected = "Basic " + base64.b64encode(b"ci:not-stored").decode()
    pip = [
        sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--keyring-provider", "import", "-d", str(tmp_path / "o"),
        "--no-input", "--index-url", f"http://ci@127.0.0.1:{index.server_port}/simple/", "kr-probe",
    ]  # fmt: skip
    result = subprocess.run(pip, env=tool_env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert not any(allowed for _path, allowed in index.seen)
