"""Token leak canary: with DEBUG logging (urllib3 included), every vault operation, the
failing ones too (bad token, denied, not found, CAS conflict, unreachable, lease errors), runs
with a token of known text; the token never appears in an exception's str/repr/chain, a
traceback formatted with ``capture_locals=True``, a pickle, a log record, stdout/stderr or
the CLI's output (with ``-vv`` tracebacks)."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from secure_secrets_vault.backend import VaultBackend
from secure_secrets_vault.dynamic import DynamicCredential, DynamicSecrets

from secrets_core.errors import SecretsError
from secure_secrets import SecureSecretsManager

MAIN = "from secrets_core.cli import main; main()"
POLICY = """
path "secret/data/canary/*"     { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/canary/*" { capabilities = ["read", "list", "update", "delete"] }
path "secret/metadata/canary"   { capabilities = ["list"] }
path "secret/metadata"          { capabilities = ["list"] }
path "secret/undelete/canary/*" { capabilities = ["update"] }
path "pki/issue/web"            { capabilities = ["update"] }
path "sys/leases/*"             { capabilities = ["update"] }
"""


def everything_shown(exc: BaseException) -> str:
    """str, repr, the chain, tracebacks with every frame's locals (from the library frames
    down: this test's own frames hold the token on purpose), and the pickle."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current)]
        tb = current.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        parts += traceback.TracebackException(
            type(current), current, tb, capture_locals=True
        ).format()
        current = current.__cause__ or current.__context__
    try:
        parts.append(pickle.dumps(exc).decode("latin-1"))
    except Exception as problem:  # noqa: BLE001 - an unpicklable error cannot leak that way
        parts.append(repr(problem))
    return "".join(parts)


@pytest.fixture
def canary_token(vault_server) -> str:
    """A real token whose text is known (root may choose a token's id)."""
    token = f"CANARY-{uuid.uuid4().hex}"
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name="canary", policy=POLICY)
    admin.auth.token.create(id=token, policies=["canary"], no_default_policy=True)
    return token


def exercise(calls: list[Callable[[], object]]) -> tuple[list[str], int]:
    """Run each call; what its error or its result shows, and how many failed."""
    shown: list[str] = []
    failures = 0
    for call in calls:
        try:
            result = call()
        except SecretsError as exc:
            failures += 1
            shown.append(everything_shown(exc))
        else:
            shown.append(repr(result))
            with contextlib.suppress(TypeError):
                shown.append(pickle.dumps(result).decode("latin-1"))
    return shown, failures


def test_the_token_never_leaks(vault_server, canary_token: str, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    ok = {"vault_url": vault_server.url, "vault_token": canary_token}
    manager = SecureSecretsManager(
        default_backend="vault",
        backends={"vault": ok, "vault-envelope": {**ok, "mount_point": "secret"}},
    )
    dynamic = DynamicSecrets.from_manager(manager)
    bad = VaultBackend.from_options({**ok, "vault_token": canary_token + "x"})
    down_url = f"http://127.0.0.1:{vault_server.port + 500}"  # nothing listens there
    down = VaultBackend.from_options({**ok, "vault_url": down_url, "max_retries": 1})
    bad_dynamic = DynamicSecrets.from_options({**ok, "vault_token": canary_token + "x"})
    cert: list[DynamicCredential] = []
    shown, failures = exercise(
        [
            lambda: manager.store_secret("canary/a", "v1", cas=0),
            lambda: manager.store_secret("canary/a", "v2", cas=0),  # conflict
            lambda: manager.store_secret("canary/a", "v2", cas=1, metadata={"o": "x"}),
            lambda: manager.retrieve_secret("canary/a"),
            lambda: manager.retrieve_secret("canary/a", version=1),
            lambda: manager.retrieve_secret("canary/a", version=99),  # not found
            lambda: manager.retrieve_secret("canary/missing"),  # not found
            lambda: manager.secret_metadata("canary/a"),
            lambda: manager.list_secrets("canary/"),
            lambda: manager.delete_secret("canary/a"),
            lambda: manager.restore_secret("canary/a"),
            lambda: manager.purge_secret("canary/a"),
            lambda: manager.store_secret("elsewhere", "v"),  # denied by the policy
            lambda: manager.store_secret("canary/sealed", "v", backend_type="vault-envelope"),
            lambda: manager.rotate_encryption_key(),
            lambda: bad.read("canary/a"),  # bad token
            lambda: bad.write("canary/a", "v", cas=0),
            lambda: down.read("canary/a"),  # unreachable
            lambda: down.write("canary/a", "v"),
            lambda: cert.append(
                dynamic.read("pki/issue/web", {"common_name": "c.secure-secrets.test"})
            ),
            lambda: dynamic.renew(cert[0]),  # not renewable
            lambda: dynamic.revoke(cert[0]),
            lambda: dynamic.lookup(cert[0]),  # gone
            lambda: dynamic.read("nosuch/creds/x"),  # denied
            lambda: bad_dynamic.read("pki/issue/web", {"common_name": "x"}),  # bad token
            lambda: DynamicSecrets.from_options({**ok, "vault_url": "http://example.com"}),
            lambda: VaultBackend.from_options({**ok, "vault_url": "http://example.com"}),
        ]
    )
    assert failures >= 12, "the error paths were exercised"
    for obj in (manager, dynamic, bad, down, manager.backend("vault"), dynamic.client):
        shown += [repr(obj), str(obj)]
    manager.close()
    captured = capfd.readouterr()
    shown += [caplog.text, captured.out, captured.err]
    assert "urllib3" in caplog.text, "DEBUG logging of the HTTP layer was captured"
    for text in shown:
        assert canary_token not in text


def test_a_failing_first_use_through_the_manager_does_not_leak(
    vault_server, canary_token: str
) -> None:
    ok = {"vault_url": vault_server.url, "vault_token": canary_token + "x"}
    down_url = f"http://127.0.0.1:{vault_server.port + 500}"
    bad = SecureSecretsManager(default_backend="vault", backends={"vault": ok})
    down = SecureSecretsManager(
        default_backend="vault", backends={"vault": {**ok, "vault_url": down_url}}
    )
    shown, failures = exercise(
        [lambda: bad.retrieve_secret("canary/a"), lambda: down.list_secrets()]
    )
    assert failures == 2
    for text in shown:
        assert canary_token not in text


def test_the_cli_never_prints_the_token(vault_server, canary_token: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'default_backend = "vault"\n[backends.vault]\nvault_url = "{vault_server.url}"\n'
    )
    outputs = []
    for token, args in [
        (canary_token, ["set", "canary/cli"]),
        (canary_token, ["get", "canary/cli"]),
        (canary_token, ["get", "elsewhere"]),  # denied
        (canary_token + "x", ["get", "canary/cli"]),  # bad token
        (
            canary_token,
            ["lease", "read", "pki/issue/web", "-p", "common_name=x.secure-secrets.test"],
        ),
        (canary_token, ["lease", "renew", "pki/issue/web/nope"]),
        (canary_token + "x", ["lease", "revoke", "pki/issue/web/nope"]),
    ]:
        result = subprocess.run(
            [sys.executable, "-c", MAIN, "-vv", "--config", str(config), *args],
            env={**os.environ, "VAULT_TOKEN": token}, input="value", capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        outputs.append(result.stdout + result.stderr)
    assert any("Traceback" in text for text in outputs), "-vv printed tracebacks"
    for text in outputs:
        assert canary_token not in text
