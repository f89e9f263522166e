"""Secret references to Vault secrets, against real OpenBao servers: `run` resolves them, and
when the server goes down the child is never started (exit 8, a typed error per variable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secure_secrets import SecureSecretsManager, resolve_references
from secure_secrets.exceptions import BackendUnavailableError, UnresolvedReferencesError

CANARY = "canary-vaultref-6c0b-do-not-print"
MAIN = "from secrets_core.cli import main; main()"
DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"

pytestmark = pytest.mark.slow


def run_cli(config: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, "run", "--mask", "--", sys.executable, "-c", DUMP, str(out)],
        env={**os.environ, "SECURE_SECRETS_CONFIG": str(config), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_references_resolve_from_vault_then_vault_goes_down(
    vault_server: Any, tmp_path: Path
) -> None:
    server = type(vault_server)(tmp_path / "bao").start()  # our own server, to stop it
    try:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[backends.vault]\nvault_url = "{server.url}"\nvault_token = "{server.token}"\n'
            "timeout = 2\nmax_retries = 0\n"
        )
        manager = SecureSecretsManager(config_path=config)
        manager.store_secret("app/db", "v1-" + CANARY, "vault")
        manager.store_secret("app/db", CANARY, "vault")
        manager.store_secret("local", "file-value")
        mapping = {"DB": "ss://vault/app/db", "OLD": "ss://vault/app/db?version=1"}
        assert resolve_references(mapping, manager) == {"DB": CANARY, "OLD": "v1-" + CANARY}
        manager.close()

        out = tmp_path / "env.json"
        env = {"DB": "ss://vault/app/db", "LOCAL": "ss:local"}
        result = run_cli(config, out, env)
        assert result.returncode == 0, result.stderr
        child = json.loads(out.read_text())
        assert child["DB"] == CANARY and child["LOCAL"] == "file-value"
        out.unlink()

        server.stop()  # Vault is down while resolving
        result = run_cli(config, out, env)
        assert result.returncode == 8 and not out.exists()  # the child never started
        assert "$DB: BackendUnavailableError" in result.stderr and "$LOCAL" not in result.stderr
        assert CANARY not in result.stderr + result.stdout and server.token not in result.stderr
        with pytest.raises(UnresolvedReferencesError) as info:
            resolve_references(env, SecureSecretsManager(config_path=config))
        assert isinstance(info.value.failures["DB"], BackendUnavailableError)
    finally:
        server.stop()
