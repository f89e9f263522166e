"""``run`` gives the child the secrets it asked for and nothing else (hardening issue, item 1):
a secret may not set a variable that steers the loader, a shell or an interpreter, and the
child does not inherit the configuration's credentials (a Vault token, any ``{ env = "VAR" }``
reference), unless the user allows a variable by name. Real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_core.child_env import child_environment, steers_execution
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import AccessDeniedError

pytestmark = pytest.mark.slow

MAIN = "from secrets_core.cli import main; main()"
PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"
PAYLOAD = "$(touch /tmp/pwned-by-a-secret)"


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=60,
    )


@pytest.mark.parametrize("name", ["app/ld_preload", "app/bash_env", "app/path", "app/pythonpath"])
def test_a_secret_named_like_a_steering_variable_is_refused(name: str) -> None:
    assert cli("set", name, stdin=PAYLOAD).returncode == 0
    result = cli("run", "--prefix", "app/", "--", sys.executable, "-c", PRINT_ENV)
    assert result.returncode == 4, result.stderr  # access denied, the child never started
    assert result.stdout == ""
    variable = name.removeprefix("app/").upper()
    assert f"${variable}" in result.stderr and name in result.stderr
    assert PAYLOAD not in result.stderr


def test_an_allowed_steering_variable_is_passed() -> None:
    assert cli("set", "app/node_options", stdin="--max-old-space-size=64").returncode == 0
    result = cli(
        "run", "--prefix", "app/", "--allow-variable", "NODE_OPTIONS", "--",
        sys.executable, "-c", PRINT_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["NODE_OPTIONS"] == "--max-old-space-size=64"


def test_the_library_refuses_a_steering_variable_too(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("ld_preload", "/tmp/evil.so")
    with pytest.raises(AccessDeniedError, match="LD_PRELOAD"):
        child_environment(manager, ["ld_preload"], base={})
    assert child_environment(manager, ["ld_preload"], base={}, allow=["LD_PRELOAD"])


def test_credentials_of_the_config_stay_with_the_parent(isolated_home: Path) -> None:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[backends.vault]\nvault_url = "http://127.0.0.1:1"\n'
        'vault_token = { env = "MY_VAULT_TOKEN" }\n'
    )
    assert cli("set", "app/token", stdin="t-1").returncode == 0
    env = dict(os.environ, VAULT_TOKEN="inherited-token", MY_VAULT_TOKEN="referenced-token")
    env["SECURE_SECRETS_KEK_UNRELATED"] = "kept"
    result = cli("run", "--only", "app/token", "--", sys.executable, "-c", PRINT_ENV, env=env)
    assert result.returncode == 0, result.stderr
    child = json.loads(result.stdout)
    assert "VAULT_TOKEN" not in child and "MY_VAULT_TOKEN" not in child
    assert child["APP_TOKEN"] == "t-1" and child["SECURE_SECRETS_KEK_UNRELATED"] == "kept"
    kept = cli(
        "run", "--only", "app/token", "--allow-variable", "VAULT_TOKEN", "--",
        sys.executable, "-c", PRINT_ENV, env=env,
    )  # fmt: skip
    assert json.loads(kept.stdout)["VAULT_TOKEN"] == "inherited-token"


@pytest.mark.parametrize(
    ("variable", "steers"),
    [("LD_PRELOAD", True), ("DYLD_INSERT_LIBRARIES", True), ("BASH_ENV", True), ("ENV", True),
     ("PYTHONSTARTUP", True), ("PERL5OPT", True), ("JAVA_TOOL_OPTIONS", True), ("IFS", True),
     ("DB_PASSWORD", False), ("API_KEY", False), ("ENVIRONMENT", False)],
)  # fmt: skip
def test_the_steering_list(variable: str, steers: bool) -> None:
    assert steers_execution(variable) is steers
