"""``secure-secrets lease`` and ``run --dynamic`` in real processes, against a real OpenBao
server: the credential only on stdout (or in the child's environment), the lease renewed
while the child runs and revoked when it exits, the token never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MAIN = "from secrets_core.cli import main; main()"
PKI_DOMAIN = "secure-secrets.test"
PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


@pytest.fixture
def cli(vault_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the CLI in a new process with a config naming the server; the token comes from
    VAULT_TOKEN. Returns the CompletedProcess (text)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[backends.vault]\nvault_url = "{vault_server.url}"\n')
    env = {**os.environ, "VAULT_TOKEN": vault_server.token}

    def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-c", MAIN, "--config", str(config), *args],
            env={**env, "VAULT_TOKEN": token or vault_server.token},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert vault_server.token not in result.stdout + result.stderr
        return result

    return run


def lease_is_gone(vault_server, lease_id: str) -> bool:
    import hvac.exceptions

    try:
        vault_server.admin().adapter.put("/v1/sys/leases/lookup", json={"lease_id": lease_id})
    except hvac.exceptions.InvalidRequest:
        return True
    return False


def test_lease_read_renew_revoke(cli, vault_server, rabbitmq: set[str]) -> None:  # type: ignore[no-untyped-def]
    read = cli("lease", "read", "rabbitmq/creds/app", "--json")
    assert read.returncode == 0, read.stderr
    out = json.loads(read.stdout)
    assert out["renewable"] is True and out["lease_duration"] == 3
    assert out["data"]["username"] in rabbitmq and out["data"]["password"] not in read.stderr
    assert "lease revoke" in read.stderr
    lease_id = out["lease_id"]

    renewed = cli("lease", "renew", lease_id, "--increment", "20")
    assert renewed.returncode == 0, renewed.stderr
    assert "lease_duration  20s" in renewed.stdout

    revoked = cli("lease", "revoke", lease_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    assert out["data"]["username"] not in rabbitmq and lease_is_gone(vault_server, lease_id)

    gone = cli("lease", "renew", lease_id)
    assert gone.returncode == 3 and "does not exist" in gone.stderr


def test_lease_read_text_field_and_errors(cli, vault_server) -> None:  # type: ignore[no-untyped-def]
    common = f"--param=common_name=cli.{PKI_DOMAIN}"
    table = cli("lease", "read", "pki/issue/web", common)
    assert table.returncode == 0, table.stderr
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines() if "  " in line[:20])
    assert rows["renewable"] == "false" and rows["lease_id"].startswith("pki/issue/web/")
    assert "BEGIN CERTIFICATE" in table.stdout and "BEGIN" not in table.stderr

    serial = cli("lease", "read", "pki/issue/web", common, "--field", "serial_number")
    assert serial.returncode == 0 and serial.stdout.count(":") > 5

    refused = cli("lease", "renew", rows["lease_id"])
    assert refused.returncode == 1 and "not renewable" in refused.stderr
    assert cli("lease", "revoke", rows["lease_id"]).returncode == 0

    denied = cli("lease", "read", "pki/issue/web", common, token="s.not-a-real-token")
    assert denied.returncode == 4 and "s.not-a-real-token" not in denied.stderr
    bad_path = cli("lease", "read", "../sys/leases")
    assert bad_path.returncode == 2 and "secrets-engine path" in bad_path.stderr


def test_run_dynamic_renews_while_the_child_runs_and_revokes(  # type: ignore[no-untyped-def]
    cli, vault_server, rabbitmq: set[str]
) -> None:
    child = (
        "import json, os, sys, time; time.sleep(5);"  # longer than the 3 s TTL
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('MQ')}))"
    )
    result = cli("run", "--dynamic", "MQ=rabbitmq/creds/app", "--", sys.executable, "-c", child)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert set(env) == {"MQ_USERNAME", "MQ_PASSWORD"}
    assert env["MQ_PASSWORD"] not in result.stderr
    assert env["MQ_USERNAME"] not in rabbitmq, "revoked (the user deleted) when the child exited"


def test_run_dynamic_field_with_params_and_a_failing_child(cli, vault_server) -> None:  # type: ignore[no-untyped-def]
    spec = f"SERIAL=pki/issue/web?common_name=run.{PKI_DOMAIN}#serial_number"
    child = "import os, sys; print(os.environ['SERIAL']); sys.exit(7)"
    result = cli("run", "--dynamic", spec, "--", sys.executable, "-c", child)
    assert result.returncode == 7, result.stderr
    serial = result.stdout.strip()
    cert = vault_server.admin().adapter.get(f"/v1/pki/cert/{serial}")["data"]
    assert cert["revocation_time"] > 0, "revoked although the child failed"

    missing = cli("run", "--dynamic", "X=pki/issue/web?common_name=a.secure-secrets.test#nope",
                  "--", sys.executable, "-c", "print('ran')")  # fmt: skip
    assert missing.returncode == 2 and "no field 'nope'" in missing.stderr
    assert "ran" not in missing.stdout


def test_run_dynamic_revokes_when_run_is_terminated(  # type: ignore[no-untyped-def]
    vault_server, rabbitmq: set[str], tmp_path: Path
) -> None:
    import signal
    import time

    config = tmp_path / "config.toml"
    config.write_text(f'[backends.vault]\nvault_url = "{vault_server.url}"\n')
    before = set(rabbitmq)
    child = "import time; print('started', flush=True); time.sleep(60)"
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "--config", str(config), "run", "--dynamic",
         "MQ=rabbitmq/creds/app", "--", sys.executable, "-c", child],
        env={**os.environ, "VAULT_TOKEN": vault_server.token}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    created = set(rabbitmq) - before
    assert len(created) == 1, "the credential exists while the command runs"
    time.sleep(4)  # past the 3 s TTL: still there because run renews it
    assert created <= rabbitmq
    process.send_signal(signal.SIGTERM)  # forwarded to the command, which dies of it
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert not created & rabbitmq, "revoked when the command ended"
