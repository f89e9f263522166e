"""Dynamic secrets against a real OpenBao server: PKI certificates (leased, not renewable)
and RabbitMQ users (leased, renewable; the engine talks to a minimal stand-in for the RabbitMQ
management API that records which users exist: the ``rabbitmq`` fixture of conftest.py)."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from secure_secrets_vault.dynamic import DynamicCredential, DynamicSecrets
from secure_secrets_vault.errors import LeaseNotFoundError, LeaseNotRenewableError

from secrets_core.errors import AccessDeniedError, InvalidSecretNameError, SecretNotFoundError
from secure_secrets import SecureSecretsManager

PKI_DOMAIN = "secure-secrets.test"  # the conftest's PKI role issues for its subdomains


@pytest.fixture
def dynamic(vault_server) -> Iterator[DynamicSecrets]:
    made = DynamicSecrets.from_options(vault_server.options())
    yield made
    made.close()


def issue(dynamic: DynamicSecrets, host: str = "app", **params: str) -> DynamicCredential:
    return dynamic.read("pki/issue/web", {"common_name": f"{host}.{PKI_DOMAIN}", **params})


def revoked_serials(vault_server) -> set[str]:
    """Serial numbers on the PKI mount's CRL (parsed with cryptography)."""
    import requests
    from cryptography import x509

    pem = requests.get(f"{vault_server.url}/v1/pki/crl/pem", timeout=10)  # public endpoint
    crl = x509.load_pem_x509_crl(pem.content)
    return {f"{entry.serial_number:x}" for entry in crl}


def serial_hex(credential: DynamicCredential) -> str:
    return credential["serial_number"].replace(":", "").lstrip("0")


# --- PKI: issue, lookup, renew (refused), revoke, expiry ---------------------------------------


def test_issue_a_certificate_with_its_lease(dynamic: DynamicSecrets) -> None:
    cred = issue(dynamic)
    assert cred.lease_id.startswith("pki/issue/web/")
    assert 0 < cred.lease_duration <= 60 and cred.renewable is False
    assert "BEGIN CERTIFICATE" in cred["certificate"] and "private_key" in cred.fields()
    key = cred["private_key"]
    assert key not in repr(cred) and key not in str(cred) and "**********" in repr(cred)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(cred)
    info = dynamic.lookup(cred)
    assert info.lease_id == cred.lease_id and 0 < info.ttl <= 60 and not info.renewable
    dynamic.revoke(cred)


def test_renewing_a_pki_lease_is_refused_with_a_typed_error(dynamic: DynamicSecrets) -> None:
    """OpenBao's PKI engine issues non-renewable leases: sys/leases/renew answers 400 'lease
    is not renewable'."""
    cred = issue(dynamic)
    with pytest.raises(LeaseNotRenewableError, match="not renewable"):
        dynamic.renew(cred.lease_id, increment=30)
    dynamic.revoke(cred.lease_id)


def test_revoke_puts_the_certificate_on_the_crl(vault_server, dynamic: DynamicSecrets) -> None:
    cred = issue(dynamic)
    assert serial_hex(cred) not in revoked_serials(vault_server)
    dynamic.revoke(cred)
    assert serial_hex(cred) in revoked_serials(vault_server)
    cert = vault_server.admin().adapter.get(f"/v1/pki/cert/{cred['serial_number']}")["data"]
    assert cert["revocation_time"] > 0
    with pytest.raises(LeaseNotFoundError, match="expired, was revoked"):
        dynamic.lookup(cred.lease_id)
    with pytest.raises(LeaseNotFoundError):
        dynamic.renew(cred.lease_id)
    assert isinstance(LeaseNotFoundError("x"), SecretNotFoundError)
    dynamic.revoke(cred.lease_id)  # revoking again is not an error


def test_an_expired_lease_is_gone(dynamic: DynamicSecrets) -> None:
    cred = issue(dynamic, ttl="2s")
    assert cred.lease_duration <= 2
    deadline = time.monotonic() + 15
    while True:
        try:
            dynamic.lookup(cred)
        except LeaseNotFoundError:
            break
        assert time.monotonic() < deadline, "the lease should have expired"
        time.sleep(0.5)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cred["certificate"].encode())
    assert cert.not_valid_after_utc.timestamp() <= time.time(), "the certificate expired too"


def test_leased_revokes_on_exit_and_on_exception(vault_server, dynamic: DynamicSecrets) -> None:
    with dynamic.leased("pki/issue/web", {"common_name": f"ctx.{PKI_DOMAIN}"}) as cred:
        assert dynamic.lookup(cred).ttl > 0
    with pytest.raises(LeaseNotFoundError):
        dynamic.lookup(cred.lease_id)
    assert serial_hex(cred) in revoked_serials(vault_server)

    params = {"common_name": f"err.{PKI_DOMAIN}"}
    with pytest.raises(RuntimeError, match="boom"), dynamic.leased("pki/issue/web", params) as bad:
        raise RuntimeError("boom")
    with pytest.raises(LeaseNotFoundError):
        dynamic.lookup(bad.lease_id)


def test_errors_are_typed_and_never_carry_the_token(vault_server) -> None:
    bad = DynamicSecrets.from_options({"vault_url": vault_server.url, "vault_token": "s.bogus-x"})
    with pytest.raises(AccessDeniedError) as denied:
        bad.read("pki/issue/web", {"common_name": f"x.{PKI_DOMAIN}"})
    assert "s.bogus-x" not in str(denied.value) and denied.value.__context__ is None
    good = DynamicSecrets.from_options(vault_server.options())
    with pytest.raises(SecretNotFoundError):
        good.read("nosuchmount/creds/role")
    for path in ("", "pki", "/v1/pki/issue/web", "pki/../sys/leases", "pki/issue/we b"):
        with pytest.raises(InvalidSecretNameError):
            good.read(path)


# --- the manager: same settings, nothing stored unless asked -----------------------------------


def test_from_the_manager_nothing_is_stored_unless_asked(vault_server, tmp_path: Path) -> None:
    manager = SecureSecretsManager(backends={"vault": vault_server.options()})
    assert manager.default_backend == "file"
    dynamic = DynamicSecrets.from_manager(manager)
    with dynamic.leased("pki/issue/web", {"common_name": f"m.{PKI_DOMAIN}"}) as cred:
        key = cred["private_key"]
    assert manager.list_secrets() == []
    data_dir = manager.settings.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path

    stored = dynamic.read("pki/issue/web", {"common_name": f"s.{PKI_DOMAIN}"}, store_as="tls/app")
    assert manager.list_secrets() == ["tls/app"]
    assert json.loads(manager.retrieve_secret("tls/app")) == stored.reveal()
    dynamic.revoke(stored)
    manager.close()


def test_a_manager_backend_client_can_be_used_directly(vault_server) -> None:
    manager = SecureSecretsManager(
        default_backend="vault", backends={"vault": vault_server.options()}
    )
    dynamic = DynamicSecrets(manager.backend("vault").client)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="store_as needs a manager"):
        dynamic.read("pki/issue/web", {"common_name": f"d.{PKI_DOMAIN}"}, store_as="x")
    cred = dynamic.read("pki/issue/web", {"common_name": f"d.{PKI_DOMAIN}"})
    dynamic.revoke(cred)
    manager.close()


# --- renewable leases: RabbitMQ users ----------------------------------------------------------


def test_renew_extends_a_renewable_lease(dynamic: DynamicSecrets, rabbitmq: set[str]) -> None:
    cred = dynamic.read("rabbitmq/creds/app")
    assert cred.renewable and cred.lease_duration == 3 and cred["username"] in rabbitmq
    time.sleep(1.1)
    renewed = dynamic.renew(cred, increment=10)
    assert renewed.renewable and renewed.duration == 10 and cred.lease_duration == 10
    assert dynamic.lookup(cred).ttl > 3
    dynamic.revoke(cred)
    assert cred["username"] not in rabbitmq, "revocation deleted the user"


def test_leased_keeps_renewing_until_the_block_ends(
    dynamic: DynamicSecrets, rabbitmq: set[str]
) -> None:
    with dynamic.leased("rabbitmq/creds/app") as cred:
        user = cred["username"]
        time.sleep(5)  # longer than the 3 s TTL: alive only because it is renewed
        assert dynamic.lookup(cred).ttl > 0 and user in rabbitmq
    assert user not in rabbitmq
    with pytest.raises(LeaseNotFoundError):
        dynamic.lookup(cred)


def test_keeper_counts_renewals_and_stops(dynamic: DynamicSecrets, rabbitmq: set[str]) -> None:
    cred = dynamic.read("rabbitmq/creds/app")
    keeper = dynamic.keep(cred, fraction=0.3)
    with keeper:
        time.sleep(2.5)
    assert keeper.renewals >= 2 and keeper.error is None
    assert cred["username"] not in rabbitmq
