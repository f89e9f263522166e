"""The ``[backends.vault]`` option schema. Imported at registration: no imports beyond the
core's descriptors, so registering the plugin stays cheap."""

from __future__ import annotations

from secrets_core.plugin import ConfigOption

AUTH_METHODS = ("token", "approle", "kubernetes", "jwt")

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
    "auth_method": ConfigOption(str, default="token", help="token, approle, kubernetes or jwt"),
    "auth_mount": ConfigOption(
        str, help="where the auth method is mounted; default: its name (approle, kubernetes, jwt)"
    ),
    "role_id": ConfigOption(str, help="AppRole role_id"),
    "secret_id": ConfigOption(str, secret=True, help="AppRole secret_id"),
    "secret_id_file": ConfigOption(str, help="file holding the AppRole secret_id"),
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
    "timeout": ConfigOption((int, float), default=10.0, help="seconds per HTTP request"),
    "max_retries": ConfigOption(
        int, default=4, help="retries after a connection error, 412, 429 or 5xx (0 disables)"
    ),
    "retry_budget": ConfigOption(
        (int, float),
        default=15.0,
        help="seconds an operation may spend retrying, backoff included",
    ),
}
