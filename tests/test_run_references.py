"""`secure-secrets run` resolves secret references in its environment and in --env-file
files (real child processes): bad input stops the run before the child starts, with exit
code 8 and the variables (never the values) named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager

CANARY = "canary-runref-91c2-do-not-print"
MAIN = "from secrets_core.cli import main; main()"
PRINT_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"

pytestmark = pytest.mark.slow  # every test starts the CLI and a child process


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str] | None]:
    """``secure-secrets [global args] run ARGS -- python (dump env)``; the child's env."""
    out = tmp_path / "child-env.json"
    out.unlink(missing_ok=True)
    *global_args, run_args = args if args and isinstance(args[-1], tuple) else (*args, ())
    result = subprocess.run(
        [sys.executable, "-c", MAIN, *global_args, "run", *run_args, "--"]
        + [sys.executable, "-c", PRINT_ENV, str(out)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert CANARY not in result.stderr + result.stdout
    return result, (json.loads(out.read_text()) if out.exists() else None)


@pytest.fixture
def store() -> SecureSecretsManager:
    manager = SecureSecretsManager()
    manager.store_secret("app/db_password", "first")
    manager.store_secret("app/db_password", CANARY)
    manager.store_secret("api-key", "k-123")
    manager.store_secret("unrelated", "not-asked-for")
    manager.close()
    return manager


def test_references_in_the_environment_are_resolved_and_nothing_else_is_injected(
    tmp_path: Path, store: SecureSecretsManager
) -> None:
    result, child = run(
        tmp_path,
        env={
            "DB_PASSWORD": "ss:app/db_password",
            "OLD": "ss://file/app/db_password?version=1",
            "SHADOWSOCKS": r"\ss://plain-data",
            "OTHER": "plain",
        },
    )
    assert result.returncode == 0, result.stderr
    assert child is not None
    assert child["DB_PASSWORD"] == CANARY and child["OLD"] == "first"
    assert child["SHADOWSOCKS"] == "ss://plain-data" and child["OTHER"] == "plain"
    assert "UNRELATED" not in child and "API_KEY" not in child  # only what was asked for


def test_env_file_with_quotes_export_duplicates_and_multiline(
    tmp_path: Path, store: SecureSecretsManager
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# app settings\n"
        "export DB_PASSWORD=ss:app/db_password\n"
        "API_KEY='ss://file/api-key'\n"
        'DEBUG="true"\n'
        "API_KEY=ss:api-key\n"  # a duplicate: the last one wins, as python-dotenv reads it
        'GREETING="line one\nline two"\n'
        "LITERAL='\\ss:not-a-ref'\n"
        "NOVALUE\n"
    )
    result, child = run(tmp_path, ("--env-file", str(env_file), "--mask"))
    assert result.returncode == 0, result.stderr
    assert child is not None
    assert child["DB_PASSWORD"] == CANARY and child["API_KEY"] == "k-123"
    assert child["DEBUG"] == "true" and child["GREETING"] == "line one\nline two"
    assert child["LITERAL"] == "ss:not-a-ref" and "NOVALUE" not in child
    assert "UNRELATED" not in child


def test_resolved_values_are_masked(tmp_path: Path, store: SecureSecretsManager) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MAIN, "run", "--mask", "--", sys.executable, "-c"]
        + ["import os; print(os.environ['DB_PASSWORD'])"],
        env={**os.environ, "DB_PASSWORD": "ss:app/db_password"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "*****"


def test_unresolvable_references_stop_the_run_before_the_child_starts(
    tmp_path: Path, store: SecureSecretsManager
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MISSING=ss:nope\nUNKNOWN=ss://nowhere/x\nVERSION=ss:api-key?version=x\n")
    result, child = run(tmp_path, ("--env-file", str(env_file)), env={"GOOD": "ss:app/db_password"})
    assert child is None  # never started
    assert result.returncode == 8
    assert "$VERSION" in result.stderr and "malformed" in result.stderr
    env_file.write_text("MISSING=ss:nope\nUNKNOWN=ss://nowhere/x\nOLD=ss:api-key?version=7\n")
    result, child = run(tmp_path, ("--env-file", str(env_file)))
    assert child is None and result.returncode == 8
    for variable in ("$MISSING: SecretNotFoundError", "$UNKNOWN: PluginNotFoundError", "$OLD"):
        assert variable in result.stderr


def test_bad_env_files_are_refused(tmp_path: Path, store: SecureSecretsManager) -> None:
    broken = tmp_path / "broken.env"
    broken.write_text(f"OK=1\nSECRET='{CANARY}\n")  # unclosed quote
    result, child = run(tmp_path, ("--env-file", str(broken)))
    assert child is None and result.returncode == 5
    assert "line 2" in result.stderr
    result, child = run(tmp_path, ("--env-file", str(tmp_path / "absent.env")))
    assert child is None and result.returncode == 5 and "does not exist" in result.stderr
    fifo = tmp_path / "fifo.env"
    os.mkfifo(fifo)  # must not hang the run
    result, child = run(tmp_path, ("--env-file", str(fifo)))
    assert child is None and result.returncode == 5 and "not a regular file" in result.stderr
    link = tmp_path / "link.env"
    link.symlink_to(broken)
    result, child = run(tmp_path, ("--env-file", str(link)))
    assert child is None and result.returncode == 5 and "symlink" in result.stderr


def test_profiles(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.dev]\n[profiles.prod]\n")
    for profile in ("dev", "prod"):
        with SecureSecretsManager(config_path=config, profile=profile) as manager:
            manager.store_secret("db", f"{CANARY}-{profile}")
    env = {"SECURE_SECRETS_CONFIG": str(config), "DB": "ss:db"}
    result, child = run(tmp_path, "--profile", "prod", (), env=env)
    assert result.returncode == 0 and child is not None and child["DB"] == f"{CANARY}-prod"
    env["DB"] = "ss:db?profile=prod"
    result, child = run(tmp_path, "--profile", "dev", (), env=env)
    assert child is None and result.returncode == 8 and "--allow-profile prod" in result.stderr
    result, child = run(tmp_path, "--profile", "dev", ("--allow-profile", "prod"), env=env)
    assert result.returncode == 0 and child is not None and child["DB"] == f"{CANARY}-prod"


def test_vault_down_stops_the_run_with_exit_8(tmp_path: Path, store: SecureSecretsManager) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        f'[backends.vault]\nvault_url = "http://127.0.0.1:{port}"\nvault_token = "t"\ntimeout = 2\n'
    )
    env = {"SECURE_SECRETS_CONFIG": str(config), "DB": "ss://vault/app/db", "OK": "ss:api-key"}
    result, child = run(tmp_path, env=env)
    assert child is None and result.returncode == 8
    assert "$DB: BackendUnavailableError" in result.stderr and "$OK" not in result.stderr


def test_key_variables_are_never_read_as_references(
    tmp_path: Path, store: SecureSecretsManager
) -> None:
    env = {"SECURE_SECRETS_PASSPHRASE": r"ss:not a reference", "SECURE_SECRETS_KEK": r"\ss:x"}
    result, child = run(tmp_path, ("--pass-key-env",), env=env)
    assert result.returncode == 0, result.stderr
    assert child is not None
    assert child["SECURE_SECRETS_PASSPHRASE"] == "ss:not a reference"
    assert child["SECURE_SECRETS_KEK"] == r"\ss:x"  # passed as it was, not unescaped


def test_policy_applies_to_references(tmp_path: Path, store: SecureSecretsManager) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[policies.app]\nread = ["app/"]\n')
    env = {"SECURE_SECRETS_CONFIG": str(config), "DB": "ss:app/db_password", "KEY": "ss:api-key"}
    result, child = run(tmp_path, ("--policy", "app"), env=env)
    assert child is None and result.returncode == 8
    assert "$KEY: AccessDeniedError" in result.stderr and "$DB" not in result.stderr
