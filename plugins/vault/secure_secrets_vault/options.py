"""The ``[backends.vault]`` option schema. Imported at registration: no imports beyond the
core's descriptors, so registering the plugin stays cheap."""

from __future__ import annotations

from secrets_core.plugin import ConfigOption

AUTH_METHODS = ("token", "approle", "kubernetes", "jwt", "agent")

OPTIONS: dict[str, ConfigOption] = {
    "vault_url": ConfigOption(
        str, help="server address, e.g. https://vault.example.com:8200; default: $VAULT_ADDR"
    ),
    "addresses": ConfigOption(
        list,
        help="several server addresses (cluster nodes), tried in order when one is down; "
        "instead of vault_url",
    ),
    "vault_token": ConfigOption(
        str,
        secret=True,
        help="token (auth_method token); default: token_file, $VAULT_TOKEN",
        env="VAULT_TOKEN",
    ),
    "token_file": ConfigOption(str, help="file holding the token (e.g. written by Vault Agent)"),
    "mount_point": ConfigOption(str, default="secret", help="the KV secrets engine's mount"),
    "kv_version": ConfigOption(int, help="1 or 2; default: detected from the mount"),
    "client_side_encryption": ConfigOption(
        bool,
        default=False,
        help="store values sealed by the manager's data key instead of as plaintext for the "
        "server to encrypt (for when the server is not trusted with plaintext)",
    ),
    "namespace": ConfigOption(str, help="Vault Enterprise namespace; default: $VAULT_NAMESPACE"),
    "auth_method": ConfigOption(
        str,
        default="token",
        help="token, approle, kubernetes, jwt, or agent (no token: a Vault Agent / bao proxy "
        "with auto-auth at vault_url adds it)",
    ),
    "auth_mount": ConfigOption(
        str, help="where the auth method is mounted; default: its name (approle, kubernetes, jwt)"
    ),
    "role_id": ConfigOption(str, help="AppRole role_id"),
    "secret_id": ConfigOption(str, secret=True, help="AppRole secret_id"),
    "secret_id_file": ConfigOption(str, help="file holding the AppRole secret_id"),
    "secret_id_wrapped": ConfigOption(
        bool,
        default=False,
        help="secret_id / secret_id_file holds a response-wrapping token; it is unwrapped "
        "once, at the first login",
    ),
    "role": ConfigOption(str, help="role name for kubernetes/jwt login"),
    "jwt": ConfigOption(str, secret=True, help="the JWT for jwt login"),
    "jwt_file": ConfigOption(
        str,
        help="file holding the JWT; default for kubernetes: the service account token",
    ),
    "ca_cert": ConfigOption(
        str, help="CA bundle (PEM) to verify the server; default: $VAULT_CACERT"
    ),
    "client_cert": ConfigOption(str, help="client certificate (PEM) for TLS client auth"),
    "client_key": ConfigOption(str, help="private key (PEM) of client_cert"),
    "tls_verify": ConfigOption(
        bool, default=True, help="verify the server certificate (never turn off in production)"
    ),
    "allow_insecure_http": ConfigOption(
        bool, default=False, help="allow plain http:// to a non-loopback host"
    ),
    "timeout": ConfigOption(
        (int, float), default=10.0, help="seconds at most per HTTP request (connect and read)"
    ),
    "max_retries": ConfigOption(
        int,
        help="cap on retries after a connection error, 412, 429 or 5xx (0 disables); "
        "default: no cap, retry_budget decides",
    ),
    "retry_budget": ConfigOption(
        (int, float),
        default=15.0,
        help="seconds one operation may take in all: requests, retries and backoff",
    ),
    "read_your_writes": ConfigOption(
        bool,
        default=True,
        help="send the newest X-Vault-Index seen, so that a standby never answers with data "
        "older than this client's own writes",
    ),
}
