"""Key-source and audit-sink options given in code, like backend options, and a plugin's
own offline ``validate(options)`` run by ``config validate`` (issue 19, item 6)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from secrets_core.assembly import Assembly
from secrets_core.config import load_settings
from secrets_core.errors import ConfigError
from secure_secrets import SecureSecretsManager


def test_key_source_options_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEK", base64.b64encode(os.urandom(32)).decode())
    manager = SecureSecretsManager(key_source="env", key_source_options={"variable": "MY_KEK"})
    manager.store_secret("k", "v")
    assert manager.retrieve_secret("k") == "v"
    monkeypatch.delenv("MY_KEK")
    with pytest.raises(Exception, match="MY_KEK"):  # the option really is the one in use
        SecureSecretsManager(key_source="env", key_source_options={"variable": "MY_KEK"}
                             ).retrieve_secret("k")  # fmt: skip


def test_audit_sink_options_in_code(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere.jsonl"
    manager = SecureSecretsManager(audit_sink_options={"jsonl": {"path": str(log)}})
    manager.store_secret("k", "v")
    assert json.loads(log.read_text().splitlines()[-1])["secret_name"] == "k"


def test_options_for_a_sink_that_is_not_enabled_are_refused() -> None:
    with pytest.raises(ConfigError, match="add it to audit_sinks"):
        SecureSecretsManager(audit_sink_options={"logging": {"level": "INFO"}})


def test_config_validate_runs_the_plugins_offline_validate(tmp_path: Path) -> None:
    settings = load_settings(
        default_backend="sqlite",
        backends={"sqlite": {"path": str(tmp_path / "db.sqlite3"), "max_versions": 0}},
    )
    problems = Assembly(settings).validation_problems()
    assert any("max_versions" in problem for problem in problems), problems
    assert not (tmp_path / "db.sqlite3").exists(), "validation builds nothing"
