"""docs/containers.md and docs/migration.md: their Python blocks run (in a fresh interpreter
in the isolated home), and the Kubernetes example has the shape kubernetes_secret produces."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from secure_secrets_env.export import kubernetes_secret
from secure_secrets_env.format import secret_name_of

from secrets_core.testing.docs import as_script, fenced_blocks

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.slow
@pytest.mark.parametrize("page", ["containers.md", "migration.md"])
def test_python_blocks_run(page: str, tmp_path: Path) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert fenced_blocks(text, "python"), f"{page} should show runnable Python"
    script = tmp_path / "page.py"
    script.write_text(as_script(text), encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRET")}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"docs/{page} (line numbers are the page's):\n{result.stderr}"
    assert "hunter2" not in result.stdout + result.stderr


def test_kubernetes_example_matches_what_kubernetes_secret_produces() -> None:
    text = (DOCS / "containers.md").read_text(encoding="utf-8")
    (example,) = [block.group(1) for block in fenced_blocks(text, "yaml")]
    secret_doc, deployment = example.split("\n---\n")
    generated = kubernetes_secret(
        {"SECURE_SECRET_db_Spassword": "sse1:b:x", "SECURE_SECRET_api__key": "sse1:b:y"},
        "app-secrets",
        namespace="prod",
    )
    head = generated.split("\ndata:\n")[0]
    assert secret_doc.startswith(head + "\ndata:\n"), "the example's header must be generated"
    data = secret_doc.split("\ndata:\n", 1)[1].splitlines()
    assert len(data) == 2
    for line in data:
        variable, value = line.strip().split(": ")
        assert secret_name_of(variable) is not None, f"{variable} is not an env variable"
        assert base64.b64decode(value.rstrip(".")[:40] + "==")[:7] == b"sse1:b:"
    assert re.search(r"secretRef:\n\s+name: app-secrets\b", deployment)
    for variable in ("SECURE_SECRETS_BACKEND", "SECURE_SECRETS_KEY_SOURCE", "SECURE_SECRETS_KEK"):
        assert f"name: {variable}" in deployment
    assert "mountPath: /keyring" in deployment and "value: /keyring" in deployment
