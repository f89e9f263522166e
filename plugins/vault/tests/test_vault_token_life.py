"""Tokens that live as long as the process, against a real OpenBao server: an idle process
keeps its renewable token alive; a refused token is reported as such (not as a policy
problem); AppRole with a response-wrapped secret_id (unwrapped once); token-less use through
``bao proxy`` with auto-auth (``auth_method = "agent"``)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from secure_secrets_vault.backend import VaultBackend

from secrets_core.errors import AccessDeniedError, BackendConfigurationError

POLICY = 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }'
make_backend = VaultBackend.from_options


def kv_policy(server) -> None:  # type: ignore[no-untyped-def]
    server.admin().sys.create_or_update_policy(name="kv-rw", policy=POLICY)


@pytest.mark.slow
def test_an_idle_process_keeps_its_renewable_token_alive(vault_server, unique: str) -> None:
    kv_policy(vault_server)
    token = vault_server.admin().auth.token.create(
        policies=["kv-rw"], ttl="3s", explicit_max_ttl="120s", renewable=True
    )["auth"]["client_token"]
    backend = make_backend({"vault_url": vault_server.url, "vault_token": token})
    backend.write(f"{unique}/a", "v")
    time.sleep(7)  # idle for more than twice the TTL: only a background renewal helps
    assert backend.read(f"{unique}/a") == "v"
    backend.close()


def test_a_revoked_token_is_reported_as_such_not_as_a_policy_problem(
    vault_server, unique: str
) -> None:
    kv_policy(vault_server)
    admin = vault_server.admin()
    token = admin.auth.token.create(policies=["kv-rw"], ttl="1h")["auth"]["client_token"]
    backend = make_backend({"vault_url": vault_server.url, "vault_token": token})
    backend.write(f"{unique}/a", "v")
    admin.auth.token.revoke(token)
    with pytest.raises(AccessDeniedError, match="expired, revoked or invalid") as info:
        backend.read(f"{unique}/a")
    assert "polic" not in str(info.value).split("not a")[0]
    assert token not in str(info.value)


def test_a_policy_denial_is_still_reported_as_a_policy_problem(vault_server) -> None:
    kv_policy(vault_server)
    token = vault_server.admin().auth.token.create(policies=["kv-rw"])["auth"]["client_token"]
    backend = make_backend(
        {"vault_url": vault_server.url, "vault_token": token, "mount_point": "kv1",
         "kv_version": 1}
    )  # fmt: skip
    with pytest.raises(AccessDeniedError, match="policies do not allow it"):
        backend.read("k")


def wrapped_secret_id(server, role: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    kv_policy(server)
    admin = server.admin()
    admin.auth.approle.create_or_update_approle(role_name=role, token_policies=["kv-rw"])
    role_id = admin.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    wrapped = admin.adapter.post(
        f"/v1/auth/approle/role/{role}/secret-id", headers={"X-Vault-Wrap-TTL": "60s"}
    )
    return role_id, wrapped["wrap_info"]["token"]


def test_approle_with_a_response_wrapped_secret_id(
    vault_server, unique: str, tmp_path: Path, caplog
) -> None:
    role_id, wrapping = wrapped_secret_id(vault_server, unique)
    path = tmp_path / "wrapped"
    path.write_text(wrapping)
    options = {
        "vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
        "secret_id_file": str(path), "secret_id_wrapped": True,
    }  # fmt: skip
    backend = make_backend(options)
    backend.write(f"{unique}/a", "v")
    backend.client._authenticated = False  # log in again: the unwrapped secret_id is kept
    assert backend.read(f"{unique}/a") == "v"
    assert wrapping not in caplog.text and wrapping not in repr(backend.client.__dict__)

    again = make_backend(options)  # the wrapping token works once
    with pytest.raises(AccessDeniedError, match="already unwrapped") as info:
        again.read(f"{unique}/a")
    assert wrapping not in str(info.value)


def test_secret_id_wrapped_is_only_for_approle(vault_server) -> None:
    with pytest.raises(BackendConfigurationError, match="approle"):
        make_backend({"vault_url": vault_server.url, "vault_token": "t", "secret_id_wrapped": True})


@pytest.fixture
def bao_proxy(vault_server, bao_path: str, free_port_pair, tmp_path: Path) -> Iterator[str]:
    """``bao proxy`` with AppRole auto-auth in front of the session server; yields its URL."""
    role_id, secret_id = ("", "")
    kv_policy(vault_server)
    admin = vault_server.admin()
    admin.auth.approle.create_or_update_approle(role_name="proxy", token_policies=["kv-rw"])
    role_id = admin.auth.approle.read_role_id(role_name="proxy")["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(role_name="proxy")["data"]["secret_id"]
    (tmp_path / "role_id").write_text(role_id)
    (tmp_path / "secret_id").write_text(secret_id)
    port = free_port_pair()
    config = tmp_path / "proxy.hcl"
    config.write_text(
        f"""
vault {{ address = "{vault_server.url}" }}
auto_auth {{
  method "approle" {{
    config = {{
      role_id_file_path = "{tmp_path / "role_id"}"
      secret_id_file_path = "{tmp_path / "secret_id"}"
      remove_secret_id_file_after_reading = false
    }}
  }}
}}
api_proxy {{ use_auto_auth_token = "force" }}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
"""
    )
    log = open(tmp_path / "proxy.log", "wb")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(  # noqa: S603
        [bao_path, "proxy", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/v1/sys/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_token_less_use_through_bao_proxy_auto_auth(bao_proxy: str, unique: str) -> None:
    with pytest.raises(BackendConfigurationError, match="no token"):
        make_backend({"vault_url": bao_proxy})  # a token is still required by default
    backend = make_backend({"vault_url": bao_proxy, "auth_method": "agent"})
    deadline = time.monotonic() + 10
    while True:  # the proxy logs in asynchronously after it starts
        try:
            backend.write(f"{unique}/a", "through the proxy")
            break
        except AccessDeniedError:
            assert time.monotonic() < deadline, "bao proxy never authenticated"
            time.sleep(0.2)
    assert backend.read(f"{unique}/a") == "through the proxy"
    assert backend.client.hvac.token == "", "the backend itself sends no token"
