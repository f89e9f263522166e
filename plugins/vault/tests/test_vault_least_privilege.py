"""The Vault policy docs/access-control.md gives for ``[policies.billing]`` enforces, on a real
OpenBao server, the same grant the scoped handle enforces in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from secrets_core.errors import AccessDeniedError
from secure_secrets import SecureSecretsManager

DOC = Path(__file__).resolve().parents[3] / "docs" / "access-control.md"


def documented_policy(mount: str) -> str:
    block = DOC.read_text().split("```hcl\n", 1)[1].split("```", 1)[0]
    return block.replace("secret/", f"{mount}/").replace("mounts/secret", f"mounts/{mount}")


def test_a_token_limited_by_the_documented_policy(vault_server, fresh_mount, tmp_path) -> None:
    mount = fresh_mount(2)
    admin = vault_server.admin()
    for name in ("billing/stripe", "billing/invoices/old", "payroll/db"):
        admin.secrets.kv.v2.create_or_update_secret(name, {"value": "seed"}, mount_point=mount)
    admin.sys.create_or_update_policy(name=f"billing-{mount}", policy=documented_policy(mount))
    token = admin.auth.token.create(policies=[f"billing-{mount}"], no_default_policy=True)
    options = {
        "vault_url": vault_server.url,
        "vault_token": token["auth"]["client_token"],
        "mount_point": mount,
    }
    config = tmp_path / "config.toml"
    config.write_text('[policies.billing]\nread = ["billing/"]\nwrite = ["billing/invoices/"]\n')
    manager = SecureSecretsManager(
        default_backend="vault", backends={"vault": options}, config_path=config
    )
    handle = manager.scoped(policy="billing")

    # What the policy grants works through the plain manager (the server allows it)...
    assert manager.retrieve_secret("billing/stripe") == "seed"
    assert manager.list_secrets("billing/") == ["billing/invoices/old", "billing/stripe"]
    manager.store_secret("billing/invoices/new", "issued")
    assert handle.retrieve_secret("billing/invoices/new") == "issued"

    # ...and what it does not is refused by the server, as the handle refuses it in-process.
    refused = [
        lambda target: target.retrieve_secret("payroll/db"),
        lambda target: target.store_secret("billing/stripe", "overwrite"),
        lambda target: target.store_secret("payroll/new", "x"),
        lambda target: target.delete_secret("billing/stripe"),
    ]
    for call in refused:
        for target in (manager, handle):
            with pytest.raises(AccessDeniedError):
                call(target)
    stored = admin.secrets.kv.v2.read_secret_version(
        "billing/stripe", mount_point=mount, raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == {"value": "seed"}, "nothing refused was written"
