"""`import-env --apply --rewrite --references`: the .env keeps its keys, each imported value
becomes its secret reference, and `run --env-file` gives the application the old values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from secrets_core.cli.app import cli
from secrets_core.dotenv_import import import_dotenv
from secrets_core.envfile import read_dotenv_values
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import ConfigError

CANARY = "canary-importref-33a1-do-not-print"
DOTENV = (
    "# the app's settings\n"
    f"export DB_PASSWORD='{CANARY}'\n"
    f'API_KEY="first-{CANARY}"\n'
    'DEBUG="true"\n'
    f"API_KEY=second-{CANARY}\n"  # a duplicate: the last one is what the app saw
    f'PEM="-----BEGIN KEY-----\n{CANARY}\n-----END KEY-----"\n'
    "not-a-variable-name.ok=1\n"
)


@pytest.mark.slow
def test_rewrite_as_references_leaves_no_secret_in_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(DOTENV)
    before = read_dotenv_values(env_file)
    result = CliRunner().invoke(
        cli, ["import-env", str(env_file), "--apply", "--rewrite", "--references"]
    )
    assert result.exit_code == 0, result.output
    text = env_file.read_text()
    assert CANARY not in text and CANARY not in result.output
    assert "DB_PASSWORD=ss://file/DB_PASSWORD\n" in text and text.count("API_KEY=") == 1
    assert text.startswith("# the app's settings\n")
    after = read_dotenv_values(env_file)
    assert set(after) == set(before)
    assert after["PEM"] == "ss://file/PEM"
    # The application, started through run, reads what it read before.
    out = tmp_path / "seen.txt"
    child = "import os, sys, json; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    subprocess.run(
        [sys.executable, "-c", "from secrets_core.cli import main; main()", "run"]
        + ["--env-file", str(env_file), "--", sys.executable, "-c", child, str(out)],
        check=True,
        env=dict(os.environ),
        capture_output=True,
    )
    import json

    seen = json.loads(out.read_text())
    for key, value in before.items():
        assert seen[key] == value


def test_references_need_rewrite_and_are_refused_for_the_env_backend(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(DOTENV)
    result = CliRunner().invoke(cli, ["import-env", str(env_file), "--apply", "--references"])
    assert result.exit_code == 2 and "--references needs --rewrite" in result.output
    with pytest.raises(ConfigError, match="env backend"):
        import_dotenv(SecureSecretsManager(), env_file, "env", dry_run=False, rewrite="references")
    assert env_file.read_text() == DOTENV
