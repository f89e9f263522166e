"""Failures against a real server: revoked token, denied policy, server down and restarted,
sealed server and retries, TLS, plain-http refusal, timeouts. Errors are typed, carry neither
the token nor the value, chain nothing third-party, and nothing logs the token."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator

import pytest
from secure_secrets_vault import plugin
from secure_secrets_vault.backend import VaultBackend
from secure_secrets_vault.errors import VaultTLSError
from secure_secrets_vault.settings import settings_from_options

from secrets_core.config import resolve_options
from secrets_core.errors import (
    AccessDeniedError,
    BackendConfigurationError,
    BackendUnavailableError,
)
from secure_secrets import SecureSecretsManager

CANARY_VALUE = "VALUE-CANARY-5c1e9b"


def make_backend(options: dict[str, object]) -> VaultBackend:
    spec = plugin.secrets_register_backends()[0]
    return VaultBackend(settings_from_options(resolve_options(spec.options, options, "[test]")))


def assert_clean(exc: BaseException, *secrets: str) -> None:
    """No secret in the message, repr or formatted traceback; nothing chained."""
    shown = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    for secret in secrets:
        assert secret not in shown
    assert exc.__cause__ is None and exc.__context__ is None, "nothing third-party chained"
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if "secure_secrets" in frame.f_code.co_filename:
            for local in frame.f_locals.values():
                for secret in secrets:
                    assert secret not in repr(local), f"{secret!r} in a local of {frame}"


def scoped_token(server, policy_name: str, policy: str, **kwargs: object) -> str:
    admin = server.admin()
    admin.sys.create_or_update_policy(name=policy_name, policy=policy)
    return admin.auth.token.create(policies=[policy_name], **kwargs)["auth"]["client_token"]


def test_revoked_token_mid_session(vault_server, unique: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    token = scoped_token(
        vault_server, f"{unique}-rw", 'path "secret/*" { capabilities = ["create", "read", '
        '"update", "delete", "list"] }',
    )  # fmt: skip
    backend = make_backend({"vault_url": vault_server.url, "vault_token": token})
    backend.write(f"{unique}/a", CANARY_VALUE)
    assert backend.read(f"{unique}/a") == CANARY_VALUE
    vault_server.admin().auth.token.revoke(token)
    with pytest.raises(AccessDeniedError, match="token") as info:
        backend.read(f"{unique}/a")
    assert_clean(info.value, token, CANARY_VALUE)
    with pytest.raises(AccessDeniedError) as info:
        backend.write(f"{unique}/a", CANARY_VALUE)
    assert_clean(info.value, token, CANARY_VALUE)
    assert caplog.records, "DEBUG logging (urllib3 included) was captured"
    assert token not in caplog.text and CANARY_VALUE not in caplog.text


def test_permission_denied_policy(vault_server, unique: str) -> None:
    token = scoped_token(
        vault_server, f"{unique}-ro",
        f'path "secret/data/{unique}/ro/*" {{ capabilities = ["read"] }}',
    )  # fmt: skip
    vault_server.admin().secrets.kv.v2.create_or_update_secret(
        path=f"{unique}/ro/k", secret={"value": "readable"}, mount_point="secret"
    )
    backend = make_backend({"vault_url": vault_server.url, "vault_token": token, "kv_version": 2})
    assert backend.read(f"{unique}/ro/k") == "readable"
    with pytest.raises(AccessDeniedError, match="permission denied") as info:
        backend.write(f"{unique}/ro/k", CANARY_VALUE)
    assert_clean(info.value, token, CANARY_VALUE)
    with pytest.raises(AccessDeniedError, match="policy"):
        backend.read(f"{unique}/elsewhere")


def test_manager_failure_is_audited_without_secrets(vault_server, unique: str) -> None:
    manager = SecureSecretsManager(
        default_backend="vault",
        backends={"vault": {"vault_url": vault_server.url, "vault_token": "not-a-real-token-XYZ"}},
    )
    with pytest.raises(AccessDeniedError) as info:
        manager.store_secret(f"{unique}/x", CANARY_VALUE)
    assert_clean(info.value, "not-a-real-token-XYZ", CANARY_VALUE)


def test_server_down_then_restarted(bao_factory, unique: str) -> None:
    server = bao_factory().start()
    backend = make_backend(server.options(max_retries=1, retry_budget=1.0))
    backend.write(f"{unique}/k", "before")
    server.stop()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="cannot connect") as info:
        backend.read(f"{unique}/k")
    assert time.monotonic() - started < 5, "the retry budget bounds the wait"
    assert_clean(info.value, server.token)
    server.start()  # same port and root token; the dev server's storage is in memory
    backend.write(f"{unique}/k", "after")
    assert backend.read(f"{unique}/k") == "after"


def unseal_key(server) -> str:
    match = re.search(r"Unseal Key: (\S+)", server.log_path.read_text())
    assert match, "the dev server prints its unseal key"
    return match.group(1)


def test_sealed_server_is_retried_within_the_budget(bao_factory, unique: str) -> None:
    server = bao_factory().start()
    key = unseal_key(server)
    backend = make_backend(server.options(max_retries=30, retry_budget=20.0))
    backend.write(f"{unique}/k", "v")
    admin = server.admin()
    admin.sys.seal()
    no_retry = make_backend(server.options(max_retries=0, kv_version=2))
    with pytest.raises(BackendUnavailableError, match="sealed"):
        no_retry.read(f"{unique}/k")

    timer = threading.Timer(1.0, lambda: server.admin().sys.submit_unseal_key(key))
    timer.start()
    try:
        started = time.monotonic()
        assert backend.read(f"{unique}/k") == "v", "retried until the server was unsealed"
        assert time.monotonic() - started >= 0.5
    finally:
        timer.join()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.slow
def test_timeouts_are_always_set(black_hole: str) -> None:
    backend = make_backend(
        {"vault_url": black_hole, "vault_token": "t", "timeout": 0.3, "max_retries": 1,
         "retry_budget": 0.5, "kv_version": 2}
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="timed out"):
        backend.read("k")
    assert time.monotonic() - started < 3


def test_failover_to_the_next_address(vault_server, unique: str, black_hole: str) -> None:
    backend = make_backend(
        {"addresses": ["http://127.0.0.1:1", vault_server.url], "vault_token": vault_server.token,
         "timeout": 2.0}
    )  # fmt: skip
    backend.write(f"{unique}/ha", "v")
    assert backend.read(f"{unique}/ha") == "v"


# --- TLS ---------------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default(vault_tls_server, unique: str) -> None:
    untrusted = make_backend(
        {"vault_url": vault_tls_server.url, "vault_token": vault_tls_server.token}
    )
    with pytest.raises(VaultTLSError, match="TLS verification failed") as info:
        untrusted.write(f"{unique}/k", CANARY_VALUE)
    assert isinstance(info.value, BackendUnavailableError)
    assert_clean(info.value, vault_tls_server.token, CANARY_VALUE)

    trusted = make_backend(vault_tls_server.options())
    trusted.write(f"{unique}/k", "v")
    assert trusted.read(f"{unique}/k") == "v"


def test_vault_cacert_is_honoured(vault_tls_server, unique: str, monkeypatch) -> None:
    monkeypatch.setenv("VAULT_CACERT", vault_tls_server.ca_cert)
    backend = make_backend({"vault_url": vault_tls_server.url, "vault_token": "x"})
    with pytest.raises(AccessDeniedError):  # TLS is fine; the token is not
        backend.read(f"{unique}/k")


def test_tls_verify_can_be_turned_off_explicitly(vault_tls_server, unique: str) -> None:
    backend = make_backend(
        {"vault_url": vault_tls_server.url, "vault_token": vault_tls_server.token,
         "tls_verify": False}
    )  # fmt: skip
    from urllib3.exceptions import InsecureRequestWarning

    with pytest.warns(InsecureRequestWarning):
        backend.write(f"{unique}/k", "v")


@pytest.mark.parametrize(
    "url", ["http://vault.example.com:8200", "http://10.0.0.5", "http://[2001:db8::1]:8200"]
)
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(BackendConfigurationError, match="refusing plain http"):
        make_backend({"vault_url": url, "vault_token": "t"})
    make_backend({"vault_url": url, "vault_token": "t", "allow_insecure_http": True})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8200", "http://localhost:8200", "http://[::1]:8200",
            "https://vault.example.com"]
)  # fmt: skip
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    make_backend({"vault_url": url, "vault_token": "t"})


def test_bad_address_and_credentials_in_url_are_refused() -> None:
    with pytest.raises(BackendConfigurationError, match="URL"):
        make_backend({"vault_url": "vault.example.com", "vault_token": "t"})
    with pytest.raises(BackendConfigurationError, match="credentials") as info:
        make_backend({"vault_url": "https://user:SECRETPW@vault.example.com", "vault_token": "t"})
    assert "SECRETPW" not in str(info.value)


@pytest.mark.slow
def test_construction_does_not_touch_the_network_or_leak(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    backend = make_backend({"vault_url": "https://vault.example.com", "vault_token": "TOKEN-C4N"})
    assert "TOKEN-C4N" not in repr(backend) and "TOKEN-C4N" not in repr(backend.settings)
    assert "TOKEN-C4N" not in repr(backend.client) and "TOKEN-C4N" not in caplog.text
    code = """
import sys
events = []
NETWORK = ("socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.sendmsg", "http.")
sys.addaudithook(lambda e, a: events.append(e) if e.startswith(NETWORK) else None)
from secure_secrets_vault.backend import VaultBackend
VaultBackend.from_options({"vault_url": "https://vault.example.com", "vault_token": "t"})
print(sorted(set(events)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # (urllib3 binds a socket to ::1 at import to probe IPv6 support: local, not network)
    assert out.stdout.strip() == "[]", "constructing a backend must not touch the network"


def test_rate_limit_429_is_retried(vault_server, fresh_mount) -> None:
    mount = fresh_mount(2)
    admin = vault_server.admin()
    admin.adapter.post(
        f"/v1/sys/quotas/rate-limit/{mount}",
        json={"path": f"{mount}/", "rate": 2, "interval": "1s"},
    )
    try:
        impatient = make_backend(
            vault_server.options(mount_point=mount, kv_version=2, max_retries=0)
        )
        with pytest.raises(BackendUnavailableError, match="rate limited"):
            for i in range(20):
                impatient.write(f"k{i}", "v")
        patient = make_backend(
            vault_server.options(mount_point=mount, kv_version=2, max_retries=50, retry_budget=20.0)
        )
        for i in range(4):
            patient.write(f"k{i}", "v")
        assert patient.read("k3") == "v"
    finally:
        admin.adapter.delete(f"/v1/sys/quotas/rate-limit/{mount}")
