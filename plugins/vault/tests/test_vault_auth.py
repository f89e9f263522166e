"""Authentication against a real server: AppRole (secret_id and secret_id_file, expired
secret_id, re-login), renewal of renewable tokens before they expire."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from secure_secrets_vault import plugin
from secure_secrets_vault.backend import VaultBackend
from secure_secrets_vault.settings import settings_from_options

from secrets_core.config import resolve_options
from secrets_core.errors import AccessDeniedError, BackendConfigurationError

POLICY = 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }'


def make_backend(options: dict[str, object]) -> VaultBackend:
    spec = plugin.secrets_register_backends()[0]
    return VaultBackend(settings_from_options(resolve_options(spec.options, options, "[test]")))


def approle(server, role: str, **role_options: object) -> tuple[str, str]:
    admin = server.admin()
    admin.sys.create_or_update_policy(name="kv-rw", policy=POLICY)
    admin.auth.approle.create_or_update_approle(
        role_name=role, token_policies=["kv-rw"], **role_options
    )
    role_id = admin.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    return role_id, secret_id


def test_approle_login_with_secret_id(vault_server, unique: str) -> None:
    role_id, secret_id = approle(vault_server, unique)
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
         "secret_id": secret_id}
    )  # fmt: skip
    backend.write(f"{unique}/a", "v")
    assert backend.read(f"{unique}/a") == "v"


def test_approle_secret_id_file(vault_server, unique: str, tmp_path: Path) -> None:
    role_id, secret_id = approle(vault_server, unique)
    path = tmp_path / "secret_id"
    path.write_text(secret_id + "\n")
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
         "secret_id_file": str(path)}
    )  # fmt: skip
    backend.write(f"{unique}/a", "v")
    assert backend.read(f"{unique}/a") == "v"


def test_expired_approle_secret_id_is_access_denied(vault_server, unique: str) -> None:
    role_id, secret_id = approle(vault_server, unique, secret_id_ttl="1s")
    time.sleep(1.5)
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
         "secret_id": secret_id}
    )  # fmt: skip
    with pytest.raises(AccessDeniedError, match="approle login") as info:
        backend.read(f"{unique}/a")
    assert secret_id not in str(info.value) and role_id not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_login_token_expiry_triggers_a_new_login(vault_server, unique: str) -> None:
    """A login token that expired (not renewable) is replaced by logging in again."""
    role_id, secret_id = approle(vault_server, unique, token_ttl="1s", token_max_ttl="1s")
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
         "secret_id": secret_id}
    )  # fmt: skip
    backend.write(f"{unique}/a", "v")
    first = backend.client.hvac.token
    time.sleep(1.5)
    assert backend.read(f"{unique}/a") == "v"
    assert backend.client.hvac.token != first


def test_renewable_login_token_is_renewed_before_expiry(vault_server, unique: str) -> None:
    """The secret_id works once, so after the first login only renewal keeps the backend
    working past the token's 3 s TTL."""
    role_id, secret_id = approle(
        vault_server, unique, token_ttl="3s", token_max_ttl="60s", secret_id_num_uses=1
    )
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": role_id,
         "secret_id": secret_id}
    )  # fmt: skip
    backend.write(f"{unique}/a", "v")
    token = backend.client.hvac.token
    for _ in range(2):
        time.sleep(2.2)  # past two thirds of the 3 s TTL: renewed on the next call
        assert backend.read(f"{unique}/a") == "v"
    assert backend.client.hvac.token == token, "renewed, not replaced"


def test_renewable_token_auth_is_renewed(vault_server, unique: str) -> None:
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name="kv-rw", policy=POLICY)
    token = admin.auth.token.create(policies=["kv-rw"], ttl="3s", renewable=True)["auth"][
        "client_token"
    ]
    backend = make_backend({"vault_url": vault_server.url, "vault_token": token})
    backend.write(f"{unique}/a", "v")
    for _ in range(2):
        time.sleep(2.2)  # 4.4 s in all: only renewal keeps a 3 s token alive
        assert backend.read(f"{unique}/a") == "v"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth_method": "approle", "secret_id": "s"}, "role_id"),
        ({"auth_method": "approle", "role_id": "r"}, "secret_id"),
        ({"auth_method": "kubernetes"}, "role"),
        ({"auth_method": "jwt", "role": "r"}, "jwt"),
        ({"auth_method": "ldap"}, "auth_method"),
    ],
)
def test_incomplete_auth_config_is_a_configuration_error(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(BackendConfigurationError, match=message):
        make_backend({"vault_url": "https://vault.example.com", **options})


def test_unreadable_secret_id_file(vault_server, tmp_path: Path) -> None:
    backend = make_backend(
        {"vault_url": vault_server.url, "auth_method": "approle", "role_id": "r",
         "secret_id_file": str(tmp_path / "missing")}
    )  # fmt: skip
    with pytest.raises(BackendConfigurationError, match="secret_id_file"):
        backend.read("a")


# --- JWT (a locally signed token; Kubernetes login takes the same path with a TokenReview) -----


def signed_jwt(private_key, claims: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    import base64
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = private_key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64(signature)}"


def test_jwt_login(vault_server, unique: str, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name="kv-rw", policy=POLICY)
    admin.sys.enable_auth_method("jwt", path=f"jwt-{unique}")
    admin.auth.jwt.configure(jwt_validation_pubkeys=[public_pem], path=f"jwt-{unique}")
    admin.auth.jwt.create_role(
        name="app", role_type="jwt", user_claim="sub", bound_audiences=["secure-secrets"],
        allowed_redirect_uris=[], token_policies=["kv-rw"], path=f"jwt-{unique}",
    )  # fmt: skip
    now = int(time.time())
    claims = {"sub": "app", "aud": "secure-secrets", "iat": now, "nbf": now, "exp": now + 300}
    jwt_file = tmp_path / "jwt"
    jwt_file.write_text(signed_jwt(key, claims))
    options = {
        "vault_url": vault_server.url, "auth_method": "jwt", "auth_mount": f"jwt-{unique}",
        "role": "app", "jwt_file": str(jwt_file),
    }  # fmt: skip
    backend = make_backend(options)
    backend.write(f"{unique}/a", "v")
    assert backend.read(f"{unique}/a") == "v"

    jwt_file.write_text(signed_jwt(key, {**claims, "aud": "someone-else"}))
    with pytest.raises(AccessDeniedError, match="jwt login"):
        make_backend(options).read(f"{unique}/a")


def test_token_file_is_read_again_when_its_token_is_refused(
    vault_server, unique: str, tmp_path: Path
) -> None:
    """Vault Agent rewrites its token sink; a refused token makes the backend re-read it."""
    admin = vault_server.admin()
    admin.sys.create_or_update_policy(name="kv-rw", policy=POLICY)
    first, second = (
        admin.auth.token.create(policies=["kv-rw"])["auth"]["client_token"] for _ in range(2)
    )
    sink = tmp_path / "agent-token"
    sink.write_text(first)
    backend = make_backend({"vault_url": vault_server.url, "token_file": str(sink)})
    backend.write(f"{unique}/a", "v")
    admin.auth.token.revoke(first)
    sink.write_text(second)
    assert backend.read(f"{unique}/a") == "v"
    admin.auth.token.revoke(second)
    with pytest.raises(AccessDeniedError):
        backend.read(f"{unique}/a")
