"""docs/dynamic-secrets.md is executed against the session's OpenBao server: its ```py blocks
run in order in a fresh interpreter (with VAULT_ADDR and VAULT_TOKEN set), and the policy in
its ```hcl block is enough for reading, renewing and revoking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from secure_secrets_vault.dynamic import DynamicSecrets

from secrets_core.testing.docs import as_script, fenced_blocks

PAGE = Path(__file__).resolve().parents[3] / "docs" / "dynamic-secrets.md"


def test_the_examples_run(vault_server, rabbitmq, tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert len(fenced_blocks(text, "py")) >= 4
    script = tmp_path / "dynamic_secrets_md.py"
    script.write_text(as_script(text, "py"), encoding="utf-8")
    env = {**os.environ, "VAULT_ADDR": vault_server.url, "VAULT_TOKEN": vault_server.token}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"docs/dynamic-secrets.md (page line numbers):\n{result.stderr}"
    assert "revoked" in result.stdout and vault_server.token not in result.stdout


def test_the_documented_policy_is_enough(vault_server, rabbitmq) -> None:
    text = PAGE.read_text(encoding="utf-8")
    policy = text.split("```hcl\n", 1)[1].split("```", 1)[0]
    policy = policy.replace("database/creds/readonly", "rabbitmq/creds/app")
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name="docs-dynamic", policy=policy)
    token = admin.auth.token.create(policies=["docs-dynamic"], no_default_policy=True)["auth"][
        "client_token"
    ]
    dynamic = DynamicSecrets.from_options({"vault_url": vault_server.url, "vault_token": token})
    cred = dynamic.read("rabbitmq/creds/app")
    assert cred["username"] in rabbitmq
    assert dynamic.renew(cred, increment=10).duration == 10
    assert dynamic.lookup(cred).ttl > 0
    dynamic.revoke(cred)
    assert cred["username"] not in rabbitmq
    dynamic.close()
