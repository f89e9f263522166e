"""Validating the ``[backends.vault]`` options and combining them with ``VAULT_*``.

Pure standard library and no network; imported when a backend or cipher is constructed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from secrets_core.errors import BackendConfigurationError
from secrets_core.plugin import DynamicCredentials, PluginContext, StorageBackend
from secure_secrets_vault.options import AUTH_METHODS

DEFAULT_AUTH_MOUNTS = {"approle": "approle", "kubernetes": "kubernetes", "jwt": "jwt"}
UNLIMITED_RETRIES = 1 << 30  # max_retries unset: the time budget alone decides
KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _env(var: str) -> str | None:
    value = os.environ.get(var)
    return value if value else None


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_file(path: str, key: str, what: str) -> str:
    try:
        content = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BackendConfigurationError(
            f"vault: option '{key}' names {path}, which cannot be read ({exc.strerror})"
        ) from None
    if not content:
        raise BackendConfigurationError(f"vault: option '{key}' names {path}, which is empty")
    return content


@dataclass(frozen=True)
class VaultSettings:
    """Everything the client needs, validated. ``repr`` hides credentials."""

    addresses: tuple[str, ...]
    mount_point: str
    kv_version: int | None
    namespace: str | None
    auth_method: str
    auth_mount: str | None
    token: str | None
    token_file: str | None
    role_id: str | None
    secret_id: str | None
    secret_id_file: str | None
    secret_id_wrapped: bool
    role: str | None
    jwt: str | None
    jwt_file: str | None
    verify: bool | str
    client_cert: tuple[str, str] | str | None
    timeout: float
    max_retries: int
    retry_budget: float
    read_your_writes: bool
    allow_insecure_http: bool = False

    def __repr__(self) -> str:
        return (
            f"VaultSettings(addresses={self.addresses!r}, mount_point={self.mount_point!r}, "
            f"auth_method={self.auth_method!r}, credentials='**********')"
        )

    def where(self, index: int = 0) -> str:
        return f"{self.addresses[index]} (mount '{self.mount_point}')"

    def login_secret(self) -> str:
        """The AppRole secret_id or the JWT, read from its file on every login (it may be
        rotated on disk, e.g. by Vault Agent or the kubelet)."""
        if self.auth_method == "approle":
            if self.secret_id is not None:
                return self.secret_id
            assert self.secret_id_file is not None
            return _read_file(self.secret_id_file, "secret_id_file", "secret_id")
        if self.jwt is not None:
            return self.jwt
        assert self.jwt_file is not None
        return _read_file(self.jwt_file, "jwt_file", "jwt")

    def current_token(self) -> str:
        if self.token is not None:
            return self.token
        if self.token_file is not None:
            return _read_file(self.token_file, "token_file", "token")
        raise BackendConfigurationError(
            'vault: no token: set vault_token (ideally as { env = "VAR" } or { file = "PATH" }),'
            " token_file, or VAULT_TOKEN, or choose another auth_method"
        )


def check_address(url: str, allow_insecure_http: bool) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendConfigurationError(
            "vault: the server address must be an http:// or https:// URL with a host name "
            "(vault_url, addresses or VAULT_ADDR)"
        )
    if parts.username or parts.password:
        raise BackendConfigurationError(
            "vault: the server address must not carry credentials; use vault_token or an "
            "auth method"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise BackendConfigurationError(
            f"vault: refusing plain http:// to {parts.hostname}, which is not a loopback "
            "address: the token would cross the network unencrypted. Use https://, or set "
            "allow_insecure_http = true if a TLS-terminating tunnel protects the link"
        )
    return url.strip().rstrip("/")


CREDENTIAL_OPTIONS = ("vault_token", "secret_id", "jwt")


class _Credentials:
    """The credential options while the table is validated: masked, so that a traceback
    showing this frame's locals (``capture_locals``) does not show them."""

    __slots__ = ("jwt", "secret_id", "token")

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.token: str | None = options.get("vault_token")
        self.secret_id: str | None = options.get("secret_id")
        self.jwt: str | None = options.get("jwt")

    def __repr__(self) -> str:
        return "_Credentials('**********')"


def settings_from_options(
    options: Mapping[str, Any], table: str = "[backends.vault]"
) -> VaultSettings:
    """Validate the resolved option table; fill gaps from ``VAULT_*``. No network, no hvac.
    ``table`` names the table the options came from, for error messages."""
    hidden = _Credentials(options)
    options = {k: v for k, v in options.items() if k not in CREDENTIAL_OPTIONS}
    allow_http = bool(options.get("allow_insecure_http"))
    raw_addresses = options.get("addresses")
    url = options.get("vault_url")
    if raw_addresses and url:
        raise BackendConfigurationError("vault: set either vault_url or addresses, not both")
    if raw_addresses:
        candidates = list(raw_addresses)
        if not all(isinstance(a, str) and a for a in candidates):
            raise BackendConfigurationError("vault: addresses must be a list of URLs")
    else:
        url = url or _env("VAULT_ADDR")
        if not url:
            raise BackendConfigurationError(
                f"vault: no server address: set vault_url (or addresses) in {table}, or VAULT_ADDR"
            )
        candidates = [u for u in url.split(",") if u.strip()]
    addresses = tuple(check_address(a, allow_http) for a in candidates)

    mount = str(options.get("mount_point") or "secret").strip("/")
    if not mount or any(seg in ("", ".", "..") for seg in mount.split("/")):
        raise BackendConfigurationError("vault: mount_point must be a mount path like 'secret'")
    kv_version = options.get("kv_version")
    if kv_version not in (None, 1, 2):
        raise BackendConfigurationError("vault: kv_version must be 1 or 2 (or unset to detect)")

    method = str(options.get("auth_method") or "token")
    if method not in AUTH_METHODS:
        raise BackendConfigurationError(
            f"vault: auth_method must be one of {', '.join(AUTH_METHODS)}"
        )
    token_file = options.get("token_file")
    if method == "token" and hidden.token is None and token_file is None:
        hidden.token = _env("VAULT_TOKEN")
        if hidden.token is None:
            raise BackendConfigurationError(
                'vault: no token: set vault_token (ideally as { env = "VAR" } or '
                '{ file = "PATH" }), token_file or VAULT_TOKEN, or choose another auth_method'
            )
    secret_id_file, jwt_file = options.get("secret_id_file"), options.get("jwt_file")
    if method == "approle":
        if not options.get("role_id"):
            raise BackendConfigurationError("vault: auth_method approle needs role_id")
        if (hidden.secret_id is None) == (secret_id_file is None):
            raise BackendConfigurationError(
                "vault: auth_method approle needs exactly one of secret_id and secret_id_file"
            )
    if options.get("secret_id_wrapped") and method != "approle":
        raise BackendConfigurationError("vault: secret_id_wrapped applies to auth_method approle")
    if method == "agent" and (hidden.token is not None or token_file is not None):
        raise BackendConfigurationError(
            "vault: auth_method agent sends no token (the agent or proxy adds its own); "
            "remove vault_token / token_file, or use auth_method token"
        )
    if method in ("kubernetes", "jwt"):
        if not options.get("role"):
            raise BackendConfigurationError(f"vault: auth_method {method} needs role")
        if method == "kubernetes" and hidden.jwt is None and jwt_file is None:
            jwt_file = KUBERNETES_TOKEN_FILE
        if (hidden.jwt is None) == (jwt_file is None):
            raise BackendConfigurationError(
                f"vault: auth_method {method} needs exactly one of jwt and jwt_file"
            )

    verify: bool | str = bool(options.get("tls_verify", True))
    ca_cert = options.get("ca_cert") or _env("VAULT_CACERT")
    if ca_cert and verify:
        if not Path(ca_cert).expanduser().is_file():
            raise BackendConfigurationError(
                f"vault: ca_cert (or VAULT_CACERT) names {ca_cert}, which is not a file"
            )
        verify = str(Path(ca_cert).expanduser())
    cert, key = options.get("client_cert"), options.get("client_key")
    if key and not cert:
        raise BackendConfigurationError("vault: client_key needs client_cert")
    client_cert: tuple[str, str] | str | None = (cert, key) if cert and key else cert

    timeout = float(options.get("timeout") or 10.0)
    if not 0 < timeout <= 600:
        raise BackendConfigurationError("vault: timeout must be between 0 and 600 seconds")
    raw_retries = options.get("max_retries")
    retries = UNLIMITED_RETRIES if raw_retries is None else int(raw_retries)
    budget = float(options.get("retry_budget", 15.0))
    if retries < 0 or budget < 0:
        raise BackendConfigurationError("vault: max_retries and retry_budget must be >= 0")
    if budget == 0:
        retries = 0  # no budget: one attempt of at most `timeout`

    return VaultSettings(
        addresses=addresses,
        mount_point=mount,
        kv_version=kv_version,
        namespace=options.get("namespace") or _env("VAULT_NAMESPACE"),
        auth_method=method,
        auth_mount=options.get("auth_mount") or DEFAULT_AUTH_MOUNTS.get(method),
        token=hidden.token,
        token_file=token_file,
        role_id=options.get("role_id"),
        secret_id=hidden.secret_id,
        secret_id_file=secret_id_file,
        secret_id_wrapped=bool(options.get("secret_id_wrapped")),
        role=options.get("role"),
        jwt=hidden.jwt,
        jwt_file=jwt_file,
        verify=verify,
        client_cert=client_cert,
        timeout=timeout,
        max_retries=retries,
        retry_budget=budget,
        read_your_writes=bool(options.get("read_your_writes", True)),
        allow_insecure_http=allow_http,
    )


def describe(options: Mapping[str, Any]) -> str:
    """``vault at https://host:8200 (budget 15 s)``: what the CLI says a slow call waits for
    (the scheme, host and port only: no user info, path or query, never a token)."""
    settings = settings_from_options(options)
    parts = urlsplit(settings.addresses[0])
    port = f":{parts.port}" if parts.port else ""
    others = len(settings.addresses) - 1
    more = f" and {others} other node{'s' * (others > 1)}" if others else ""
    where = f"{parts.scheme}://{parts.hostname}{port}{more}"
    return f"vault at {where} (budget {settings.retry_budget:g} s)"


def make_backend(
    options: Mapping[str, Any], context: PluginContext, table: str = "[backends.vault]"
) -> StorageBackend:
    """The ``vault`` factory: settings are checked before a client is made."""
    try:
        settings = settings_from_options(options, table)  # config errors before hvac import
        envelope = bool(options.get("client_side_encryption"))
    finally:
        del options  # an error's traceback locals must not show the credentials
    from secure_secrets_vault.backend import VaultBackend  # hvac: only once the settings are good

    return VaultBackend(settings, envelope=envelope)


def make_envelope_backend(options: Mapping[str, Any], context: PluginContext) -> StorageBackend:
    """``vault-envelope``: ``vault`` with ``client_side_encryption`` forced on. It reads its
    own table, ``[backends.vault-envelope]`` (not ``[backends.vault]``), and says so."""
    return make_backend(
        {**options, "client_side_encryption": True}, context, "[backends.vault-envelope]"
    )


def make_dynamic(options: Mapping[str, Any], context: PluginContext) -> DynamicCredentials:
    """``run --dynamic``'s credentials, with the backend's connection settings."""
    from secure_secrets_vault.dynamic import DynamicSecrets

    return DynamicSecrets.from_resolved(options)
