"""Scoped handles and named access policies: only what was granted, denials audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import AccessDeniedError, ConfigError, SecretAccessError


def audit_events(home: Path) -> list[dict]:
    path = home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def manager() -> SecureSecretsManager:
    manager = SecureSecretsManager()
    for name in ("billing/stripe", "billing/paypal", "payroll/db", "shared"):
        manager.store_secret(name, f"value of {name}")
    return manager


@pytest.mark.slow
def test_read_only_prefix_handle(manager, isolated_home) -> None:
    billing = manager.scoped("billing/", read_only=True)
    assert billing.retrieve_secret("billing/stripe") == "value of billing/stripe"
    assert billing.list_secrets() == ["billing/paypal", "billing/stripe"]
    with pytest.raises(AccessDeniedError, match="may not read secret 'payroll/db'") as info:
        billing.retrieve_secret("payroll/db")
    assert isinstance(info.value, SecretAccessError) and "value of" not in str(info.value)
    with pytest.raises(AccessDeniedError, match="may not write"):
        billing.store_secret("billing/stripe", "overwrite")
    with pytest.raises(AccessDeniedError):
        billing.delete_secret("billing/paypal")
    assert manager.retrieve_secret("billing/stripe") == "value of billing/stripe"
    denied = [e for e in audit_events(isolated_home) if e["outcome"] == "denied"]
    assert [(e["operation"], e["secret_name"], e["error_type"]) for e in denied] == [
        ("retrieve", "payroll/db", "AccessDeniedError"),
        ("store", "billing/stripe", "AccessDeniedError"),
        ("delete", "billing/paypal", "AccessDeniedError"),
    ]


@pytest.mark.slow
def test_exact_names_and_write_access(manager) -> None:
    handle = manager.scoped("shared")
    handle.store_secret("shared", "new")
    assert handle.retrieve_secret("shared") == "new"
    with pytest.raises(AccessDeniedError):
        handle.retrieve_secret("shared2")  # an exact name is not a prefix
    with pytest.raises(AccessDeniedError):
        handle.retrieve_secret("billing/stripe")


@pytest.mark.slow
def test_named_policies_from_config(isolated_home) -> None:
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[policies.billing]\nread = ["billing/"]\nwrite = ["billing/invoices/"]\n'
        '[policies.ops]\nread = ["*"]\n'
    )
    manager = SecureSecretsManager(config_path=config)
    manager.store_secret("billing/stripe", "s")
    manager.store_secret("ops/pager", "p")
    billing = manager.scoped(policy="billing")
    billing.store_secret("billing/invoices/latest", "i")
    assert billing.retrieve_secret("billing/stripe") == "s"
    with pytest.raises(AccessDeniedError):
        billing.store_secret("billing/stripe", "x")
    with pytest.raises(AccessDeniedError):
        billing.retrieve_secret("ops/pager")
    ops = manager.scoped(policy="ops")
    assert ops.retrieve_secret("ops/pager") == "p"
    with pytest.raises(AccessDeniedError):
        ops.store_secret("ops/pager", "x")
    with pytest.raises(ConfigError, match="no access policy named 'nope'.*billing, ops"):
        manager.scoped(policy="nope")


def test_policy_tables_are_validated(isolated_home) -> None:
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[policies.billing]\nreads = ["billing/"]\n')
    with pytest.raises(ConfigError, match="policies.billing.reads"):
        SecureSecretsManager(config_path=config)


def test_a_handle_needs_a_grant(manager) -> None:
    with pytest.raises(ConfigError):
        manager.scoped()
    with pytest.raises(ConfigError):
        manager.scoped("billing/", policy="billing")
