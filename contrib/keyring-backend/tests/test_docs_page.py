"""docs/keyring-backend.md is executed: the ``$ ...`` lines of its ```console blocks run in
page order in one bash session (an empty home, the venv first on PATH, a loopback index as
``$INDEX_URL``), each must succeed, and the lines shown under a command must appear in its
output. Its ```python blocks run in tests/test_docs.py with every other page's."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "keyring-backend.md"
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.M | re.S)
MARK = "@@ command {} @@"


def examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) in page order."""
    found: list[tuple[str, list[str]]] = []
    for block in CONSOLE_BLOCK.findall(PAGE.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif line.strip():
                found[-1][1].append(line)
    return found


@pytest.mark.slow
def test_console_examples_run(tmp_path: Path, index: Any, tool_env: dict[str, str]) -> None:
    commands = examples()
    assert any("pip download" in command for command, _ in commands)
    index_password = f"index-{uuid.uuid4().hex}"
    index.expected = "Basic " + base64.b64encode(f"ci:{index_password}".encode()).decode()
    env = dict(
        tool_env,
        PYPI_TOKEN=f"pypi-{uuid.uuid4().hex}",
        INDEX_URL=f"http://127.0.0.1:{index.server_port}/simple/",
        INDEX_PASSWORD=index_password,
    )
    del env["PYTHON_KEYRING_BACKEND"]  # the page selects it itself
    script = "set -euo pipefail\n" + "".join(
        f"echo '{MARK.format(i)}'\n{command}\n" for i, (command, _) in enumerate(commands)
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for i, (command, expected) in enumerate(commands):
        output = result.stdout.split(MARK.format(i))[1].split("@@ command")[0]
        for line in expected:
            assert line in output.splitlines(), f"{command!r}: {line!r} not in {output!r}"
    for secret in (env["PYPI_TOKEN"], index_password):
        assert secret not in result.stderr  # (stdout has it: `keyring get` prints it)
