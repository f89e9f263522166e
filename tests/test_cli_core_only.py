"""The CLI with a plugin blocked, as on a core-only install: a verb or option that needs the
plugin says which distribution to install, never a raw ImportError or ModuleNotFoundError."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from secrets_core.cli.app import cli


def invoke(*args: str, block: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"SECURE_SECRETS_PLUGINS_BLOCK": block}, prog_name="secure-secrets"
    )


def test_lease_without_the_vault_plugin_names_the_distribution() -> None:
    result = invoke("lease", "read", "database/creds/app", block="vault")
    assert result.exit_code == 2, result.output
    assert "pip install secure-secrets-vault" in result.stderr
    assert "Error" not in result.stderr.replace("error:", "")  # one line, no traceback


def test_help_without_the_vault_plugin_has_no_lease() -> None:
    result = invoke("--help", block="vault")
    assert result.exit_code == 0
    assert "lease" not in result.stdout


@pytest.mark.parametrize("backend", [(), ("--backend", "file")])
def test_run_dynamic_without_a_dynamic_backend_says_what_to_configure(
    backend: tuple[str, ...],
) -> None:
    assert invoke("init", block="vault").exit_code == 0
    result = invoke(*backend, "run", "--dynamic", "X=database/creds/app", "--", "true",
                    block="vault")  # fmt: skip
    assert result.exit_code != 0
    assert "dynamic credentials" in result.stderr and "secure-secrets-vault" in result.stderr
    assert "Traceback" not in result.output
