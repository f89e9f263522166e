"""Converting hvac / requests / urllib3 exceptions into secrets_core's typed errors.

The third-party exceptions carry URLs, response bodies and (for requests) the prepared request
with its ``X-Vault-Token`` header, so they are never chained: :func:`translate` builds a new
error with a message of our own, and callers raise it *outside* their ``except`` block, so
neither ``__cause__`` nor ``__context__`` refers to the original.
"""

from __future__ import annotations

from secrets_core.errors import (
    AccessDeniedError,
    BackendConfigurationError,
    BackendUnavailableError,
    ConflictError,
    SecretAccessError,
    SecretNotFoundError,
    SecretsError,
)


class VaultCasConflictError(ConflictError):
    """A check-and-set write was refused: the secret's current version is not the expected
    one (someone else wrote it in between). The core's
    :class:`~secrets_core.errors.ConflictError`; this name is kept for compatibility."""


class LeaseNotRenewableError(SecretAccessError):
    """A lease cannot be renewed (the secrets engine issues non-renewable leases, e.g. PKI
    certificates): read a new credential before it expires instead."""


class LeaseNotFoundError(SecretNotFoundError):
    """The lease does not exist: it expired, was revoked, or never existed."""


class WriteOutcomeUnknownError(BackendUnavailableError):
    """A write failed after an attempt whose answer was lost (the connection broke or timed
    out after the request was sent, or the node failed while forwarding it), and the backend
    could not settle whether it was applied: read the secret before writing again."""


class Unsettled(Exception):  # noqa: N818 - a signal inside the retry loop, never raised out
    """A guarded retry of a write found the secret changed since it was settled: settle
    again (the earlier attempt may have landed late, or another writer wrote)."""


class VaultTLSError(BackendUnavailableError):
    """The TLS handshake with the server failed (certificate not trusted, wrong host name,
    client certificate refused)."""


#: Server error strings that are safe to repeat (they never contain values or tokens).
_SEALED = ("vault is sealed", "openbao is sealed", "sealed")
_STANDBY = ("standby", "not active", "active cluster node not found", "node not active")


def _server_errors(exc: BaseException) -> list[str]:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list):
        return [str(e) for e in errors]
    return [str(errors)] if isinstance(errors, str) else []


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an hvac exception stands for, or None for a transport failure."""
    import hvac.exceptions as hx

    table: list[tuple[type[BaseException], int]] = [
        (hx.InvalidRequest, 400),
        (hx.Unauthorized, 401),
        (hx.Forbidden, 403),
        (hx.InvalidPath, 404),
        (hx.PreconditionFailed, 412),
        (hx.RateLimitExceeded, 429),
        (hx.InternalServerError, 500),
        (hx.VaultNotInitialized, 501),
        (hx.BadGateway, 502),
        (hx.VaultDown, 503),
    ]
    for kind, status in table:
        if isinstance(exc, kind):
            return status
    if isinstance(exc, hx.VaultError):
        return 599  # UnexpectedError: some other non-2xx status
    return None


def is_retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts, 412 (a standby not caught up yet), 429, 5xx (sealed,
    standby, leader election) and a KV v2 mount's "upgrading" 400 are worth another
    attempt; TLS and name-resolution failures, other 4xx answers and programming errors
    are not."""
    import requests

    if isinstance(exc, Unsettled):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return "NameResolutionError" not in repr(getattr(exc, "args", ""))
    status = status_of(exc)
    if status == 400:  # a KV v2 mount still upgrading (new mount, new leader) says so in a 400
        return any("upgrad" in e.lower() for e in _server_errors(exc))
    return status is not None and (status in (412, 429) or status >= 500) and status != 501


def may_have_applied(exc: BaseException) -> bool:
    """For a retryable failure: could the server have applied the request anyway? Not when
    the connection was never made (refused, connect timeout, budget spent before sending),
    nor for a 429/412 or a sealed node's 503 (refused before any work); yes when the answer
    was lost (read timeout, connection broken mid-request) or any other 5xx (a standby whose
    forwarded request the dying leader may have committed)."""
    import requests

    if isinstance(exc, Unsettled):
        return True
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(getattr(exc, "args", ""))
        return not any(s in text for s in ("NewConnectionError", "Connection refused"))
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    status = status_of(exc)
    if status is None or status < 500 or status == 501:
        return False
    return not any(s in e.lower() for e in _server_errors(exc) for s in _SEALED)


def translate(exc: BaseException, action: str, name: str | None, where: str) -> SecretsError:
    """A sanitised secrets_core error for ``exc`` raised while ``action``-ing ``name``.

    ``where`` names the server and mount (``https://host:8200, mount 'secret'``); it holds no
    credential. Returns (does not raise) so the caller can raise outside its except block.
    """
    import requests

    if isinstance(exc, SecretsError):
        return exc
    what = f"{action} '{name}'" if name else action
    if isinstance(exc, requests.exceptions.SSLError):
        return VaultTLSError(
            f"vault: TLS verification failed for {where} while trying to {what}: the server's "
            "certificate is not trusted (set ca_cert or VAULT_CACERT to the CA bundle that "
            "signed it) or the client certificate was refused"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return BackendUnavailableError(
            f"vault: timed out talking to {where} while trying to {what}; "
            "the server is slow or unreachable (see the timeout and retry options)"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return BackendUnavailableError(
            f"vault: cannot connect to {where} to {what}; check the address and that the "
            "server is running"
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return BackendUnavailableError(
            f"vault: request to {where} failed ({type(exc).__name__}) while trying to {what}"
        )
    if isinstance(exc, Unsettled):
        return BackendUnavailableError(
            f"vault: {where} kept changing '{name}' while a retried write was being settled"
        )
    status = status_of(exc)
    if status is None:
        return SecretAccessError(f"vault: could not {what} ({type(exc).__name__})")
    errors = " ".join(_server_errors(exc)).lower()
    if status == 400 and "check-and-set" in errors:
        return VaultCasConflictError(
            f"vault: check-and-set conflict on '{name}': its current version is not the "
            "expected one (another writer changed it); read it again and retry"
        )
    if status == 401:
        return AccessDeniedError(
            f"vault: authentication failed at {where} while trying to {what}: the token is "
            "missing, expired or revoked, or the login credentials were refused"
        )
    if status == 403:
        if "invalid token" in errors or "bad token" in errors:
            return AccessDeniedError(
                f"vault: the token was refused at {where} while trying to {what}: it is "
                "expired, revoked or invalid"
            )
        return AccessDeniedError(
            f"vault: permission denied at {where} to {what}; the token's policies do not "
            "allow it (see docs/vault.md for the policy the backend needs)"
        )
    if status == 404:
        return SecretNotFoundError(f"vault: no secret '{name}' at {where}")
    if status in (412, 429) and not errors:
        return BackendUnavailableError(
            f"vault: {where} had not caught up with this client's latest write while trying "
            f"to {what} (read-your-writes), and the time budget ran out; retry, or list the "
            "active node first"
        )
    if status == 429:
        return BackendUnavailableError(f"vault: rate limited by {where} while trying to {what}")
    if status == 501:
        return BackendUnavailableError(f"vault: {where} is not initialized")
    if status == 503 and any(s in errors for s in _SEALED):
        return BackendUnavailableError(f"vault: {where} is sealed; unseal it and retry")
    if status >= 500:
        detail = "a standby without an active node" if any(s in errors for s in _STANDBY) else ""
        return BackendUnavailableError(
            f"vault: server error (HTTP {status}{', ' + detail if detail else ''}) from {where} "
            f"while trying to {what}"
        )
    if status == 400 and ("no handler for route" in errors or "unsupported path" in errors):
        return BackendConfigurationError(
            f"vault: {where} has no KV engine serving this path (check mount_point and kv_version)"
        )
    return SecretAccessError(
        f"vault: {where} refused to {what} (HTTP {status}); the request was not valid for "
        "this mount"
    )
