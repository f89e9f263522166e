"""The connection to Vault/OpenBao: authentication, token renewal, time-budgeted retries
with jittered backoff, failover between addresses, error translation. HTTP (keep-alive pools,
read-your-writes, redirects, TLS) is :mod:`secure_secrets_vault.transport`'s.

hvac, requests and urllib3 are imported here, and this module is imported only when a backend
or the Transit cipher is constructed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import hvac

from secrets_core.errors import (
    AccessDeniedError,
    BackendConfigurationError,
    BackendUnavailableError,
    SecretsError,
)
from secure_secrets_vault.errors import (
    WriteOutcomeUnknownError,
    is_retryable,
    may_have_applied,
    status_of,
    translate,
)
from secure_secrets_vault.settings import VaultSettings
from secure_secrets_vault.transport import BudgetSpentError, Transport

log = logging.getLogger("secure_secrets_vault")

T = TypeVar("T")

BACKOFF_BASE = 0.05  # seconds; doubled per attempt, full jitter
BACKOFF_CAP = 1.0
RENEW_AT_FRACTION = 2 / 3  # renew once two thirds of the token's TTL have passed


class VaultClient:
    """Thread-safe. ``call(fn, action, name)`` runs ``fn(hvac_client)`` with retries within the
    operation's time budget and turns any failure into a secrets_core error that carries
    neither the token nor a value.

    Which address a call uses is the call's own (a local of :meth:`call`); the shared
    ``_preferred`` index is only a hint where the next call starts: the last node that
    answered."""

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self.session = Transport(settings)
        self._preferred = 0
        self._cool_until = [0.0] * len(settings.addresses)  # Retry-After, per address
        self._clients = [
            hvac.Client(
                url=address,
                token="",  # never let hvac read VAULT_TOKEN or ~/.vault-token on its own
                verify=settings.verify,
                cert=settings.client_cert,
                timeout=settings.timeout,
                namespace=settings.namespace,
                session=self.session,
            )
            for address in settings.addresses
        ]
        self._auth_lock = threading.Lock()
        self._authenticated = settings.auth_method == "agent"  # the agent adds the token
        self._renew_at: float | None = None  # monotonic time, None: nothing to renew
        self._renewable = False
        self._timer: threading.Timer | None = None
        self._secret_id: _Hidden | None = None  # an unwrapped AppRole secret_id
        self._closed = False

    def __repr__(self) -> str:
        return f"VaultClient({self.where})"

    @property
    def hvac(self) -> hvac.Client:
        """The hvac client of the address calls start from (they share token and session)."""
        return self._clients[self._preferred]

    @property
    def where(self) -> str:
        return self.settings.where(self._preferred)

    @property
    def budget(self) -> float:
        """Seconds one operation may take in all: connect, read, retries and backoff."""
        return self.settings.retry_budget or self.settings.timeout

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.session.close()

    def _set_token(self, token: str) -> None:
        for client in self._clients:
            client.token = token

    # --- calls --------------------------------------------------------------------------------

    def call(
        self,
        fn: Callable[[hvac.Client], T],
        action: str,
        name: str | None = None,
        *,
        settle: Callable[[hvac.Client], T | None] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, fails for good, or the budget is spent.

        ``settle`` is for writes that are not idempotent: after an attempt that may have been
        applied (the answer was lost), it is called before the next attempt and returns the
        result when that attempt did land (so it is not repeated), or None to go on."""
        local = self.session.local
        outer = getattr(local, "deadline", None)
        deadline = time.monotonic() + self.budget
        if outer is not None:
            deadline = min(deadline, outer)  # a nested call spends the outer call's budget
        local.deadline = deadline
        try:
            return self._attempts(fn, action, name, settle, deadline)
        finally:
            local.deadline = outer

    def _attempts(
        self,
        fn: Callable[[hvac.Client], T],
        action: str,
        name: str | None,
        settle: Callable[[hvac.Client], T | None] | None,
        deadline: float,
    ) -> T:
        settings = self.settings
        local = self.session.local
        index = self._preferred
        attempt = 0
        relogged = False
        unsettled = False  # an earlier attempt of this write may have been applied
        failed: SecretsError | None = None  # the previous attempt's failure
        while True:
            delay = -1.0
            error: SecretsError | None = None
            local.retry_after = None
            local.url = None
            client = self._clients[index]
            try:
                self._ensure_authenticated(client)
                if unsettled and settle is not None:
                    settled = settle(client)
                    if settled is not None:
                        return settled
                    unsettled = False
                result = fn(client)
                self._preferred = index
                return result
            except Exception as exc:  # every failure is translated below
                node, redirected = self._node_of(index)
                status = status_of(exc)
                retryable = is_retryable(exc)
                # A redirected request may have been applied before the redirect: a standby
                # whose forwarding to the leader failed (the leader committed, then died)
                # redirects to the dead leader, where the connection is then refused.
                unsettled = unsettled or (retryable and (redirected or may_have_applied(exc)))
                if isinstance(exc, SecretsError):
                    error = exc
                elif isinstance(exc, BudgetSpentError) and failed is not None:
                    error = failed  # nothing was sent: report what failed before
                elif retryable and attempt < settings.max_retries:
                    delay, index = self._next_try(index, attempt, deadline)
                elif not relogged and status in (401, 403) and self._can_log_in_again():
                    # The login token may have expired (log in again), or Vault Agent may
                    # have written a new token to token_file (read it again).
                    relogged = True
                    self._authenticated = False
                    delay = 0.0
                if error is None:
                    failed = translate(exc, action, name, node)
                    if delay < 0:
                        error = failed
                        if status == 403 and not self._token_is_valid(client):
                            error = AccessDeniedError(
                                f"vault: the token was refused at {node} while trying to "
                                f"{action}{f' {name!r}' if name else ''}: it is expired, "
                                "revoked or invalid (its self-lookup failed too), not a "
                                "policy problem; get a new token"
                            )
                del exc
            if error is not None:
                if unsettled and settle is not None and isinstance(error, BackendUnavailableError):
                    error = WriteOutcomeUnknownError(
                        f"{error}. The write may or may not have been applied (an answer was "
                        f"lost and the outcome could not be settled): read '{name}' to find "
                        "out before writing again"
                    )
                raise error  # outside the except block: nothing third-party is chained
            log.debug("vault: retrying %s (attempt %d) on %s", action, attempt + 1, index)
            attempt += 1
            time.sleep(delay)

    def _next_try(self, index: int, attempt: int, deadline: float) -> tuple[float, int]:
        """The pause before the next attempt and the address it uses, or (-1, index) when the
        budget does not allow another attempt. A node that answered 429 with Retry-After is
        not asked again before that time; another address is tried first."""
        now = time.monotonic()
        retry_after = getattr(self.session.local, "retry_after", None)
        if retry_after is not None:
            self._cool_until[index] = now + retry_after
        count = len(self._clients)
        nxt = (index + 1) % count
        delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311
        delay = max(delay, self._cool_until[nxt] - now)
        if now + delay >= deadline - 0.01:
            return -1.0, index
        return delay, nxt

    def _can_log_in_again(self) -> bool:
        """A refused token can be replaced: by a new login, or by re-reading token_file."""
        settings = self.settings
        return settings.auth_method not in ("token", "agent") or settings.token_file is not None

    def _node_of(self, index: int) -> tuple[str, bool]:
        """The node a failed request went to (the redirect target when it was redirected),
        and whether it was redirected."""
        where = self.settings.where(index)
        url = getattr(self.session.local, "url", None)
        if url:
            parts, sent = urlsplit(url), urlsplit(self.settings.addresses[index])
            if (parts.scheme, parts.netloc) != (sent.scheme, sent.netloc):
                return f"{parts.scheme}://{parts.netloc} (redirected from {where})", True
        return where, False

    def _token_is_valid(self, client: hvac.Client) -> bool:
        """After a 403: does the token still look itself up? (No: expired or revoked.)"""
        if self.settings.auth_method == "agent":
            return True  # the agent's token is not ours to judge
        try:
            client.auth.token.lookup_self()
        except Exception as exc:
            valid = status_of(exc) not in (401, 403)
            del exc
            return valid
        return True

    # --- authentication -----------------------------------------------------------------------

    def _ensure_authenticated(self, client: hvac.Client) -> None:
        if not self._authenticated or (
            self._renew_at is not None and time.monotonic() >= self._renew_at
        ):
            self._authenticate(client)

    def _authenticate(self, client: hvac.Client) -> None:
        """Authenticate (or renew) through ``client``, the address the calling attempt uses."""
        with self._auth_lock:
            if self._authenticated and (
                self._renew_at is None or time.monotonic() < self._renew_at
            ):
                return  # another thread did it
            if self._authenticated and self._renew_at is not None and self._renew(client):
                return
            if self.settings.auth_method == "token":
                self._use_token(client, self.settings.current_token())
            else:
                self._login(client)
            self._authenticated = True

    def _use_token(self, client: hvac.Client, token: str) -> None:
        self._set_token(token)
        self._renew_at = None
        try:
            info = client.auth.token.lookup_self()["data"]
        except Exception as exc:  # lookup is optional (policy may forbid it)
            if is_retryable(exc):
                raise  # call() retries, then translates
            return
        self._schedule_renewal(info.get("ttl"), info.get("renewable"))

    def _schedule_renewal(self, ttl: Any, renewable: Any) -> None:
        """Renew (or log in again) at two thirds of the TTL: on the next call after that
        time, or from a background timer if the process stays idle that long."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not (isinstance(ttl, int) and ttl > 0):
            self._renew_at = None
            return
        self._renew_at = time.monotonic() + ttl * RENEW_AT_FRACTION
        self._renewable = bool(renewable)
        if self._renewable or self.settings.auth_method not in ("token", "agent"):
            timer = threading.Timer(ttl * RENEW_AT_FRACTION, self._renew_in_background)
            timer.daemon = True
            timer.start()
            self._timer = timer

    def _renew_in_background(self) -> None:
        if self._closed:
            return
        try:
            self.call(lambda client: None, "renew the token")
        except SecretsError as exc:  # the next call retries and reports
            log.debug("vault: background token renewal failed (%s)", type(exc).__name__)

    def _renew(self, client: hvac.Client) -> bool:
        """Renew the current token; False when it cannot be renewed (then log in again)."""
        if not self._renewable:
            if self.settings.auth_method == "token":
                self._renew_at = None  # nothing to do; it will expire
                return True
            return False
        try:
            auth = client.auth.token.renew_self()["auth"]
        except Exception as exc:  # fall back to a fresh login / the old token
            if is_retryable(exc):
                raise  # call() retries on another node, then translates
            log.debug("vault: token renewal failed")
            return self.settings.auth_method == "token"
        self._schedule_renewal(auth.get("lease_duration"), auth.get("renewable"))
        log.debug("vault: token renewed")
        return True

    def _approle_secret_id(self, client: hvac.Client) -> str:
        """The AppRole secret_id; a response-wrapped one is unwrapped once, then kept (masked)
        in memory, because its wrapping token works only once."""
        settings = self.settings
        where = client.adapter.base_uri
        if not settings.secret_id_wrapped:
            return settings.login_secret()
        if self._secret_id is None:
            wrapping = settings.login_secret()
            unwrapper = hvac.Client(
                url=where, token=wrapping,
                verify=settings.verify, cert=settings.client_cert, timeout=settings.timeout,
                namespace=settings.namespace, session=self.session,
            )  # fmt: skip
            del wrapping
            error: SecretsError | None = None
            try:
                data = unwrapper.sys.unwrap()["data"]
                self._secret_id = _Hidden(str(data["secret_id"]))
            except Exception as exc:
                if is_retryable(exc):
                    raise
                error = AccessDeniedError(
                    f"vault: the response-wrapped secret_id could not be unwrapped at "
                    f"{where}: the wrapping token is invalid, expired or was already "
                    "unwrapped (if you did not unwrap it, someone else may have: revoke the "
                    "secret_id and deliver a new wrapped one)"
                )
                del exc
            finally:
                unwrapper.token = ""
                del unwrapper
            if error is not None:
                raise error
        assert self._secret_id is not None
        return self._secret_id.value

    def _login(self, client: hvac.Client) -> None:
        settings = self.settings
        secret = (
            self._approle_secret_id(client) if settings.auth_method == "approle"
            else settings.login_secret()
        )  # fmt: skip
        mount = settings.auth_mount
        where = client.adapter.base_uri
        result: dict[str, Any] | None = None
        error: SecretsError | None = None
        try:
            if settings.auth_method == "approle":
                result = client.auth.approle.login(
                    role_id=settings.role_id, secret_id=secret, mount_point=mount,
                    use_token=False,
                )  # fmt: skip
            elif settings.auth_method == "kubernetes":
                result = client.auth.kubernetes.login(
                    role=settings.role, jwt=secret, mount_point=mount, use_token=False
                )
            else:
                result = client.auth.jwt.jwt_login(
                    role=settings.role, jwt=secret, path=mount, use_token=False
                )
        except Exception as exc:
            if is_retryable(exc):
                raise  # call() retries, then translates
            status = status_of(exc)
            if status in (400, 401, 403):
                error = AccessDeniedError(
                    f"vault: {settings.auth_method} login at {where} was refused: the "
                    "credentials are wrong, expired or already used up"
                )
            else:
                error = translate(exc, f"log in with {settings.auth_method}", None, where)
            del exc
        del secret
        if error is not None:
            raise error
        auth = (result or {}).get("auth") or {}
        token = auth.get("client_token")
        if not token:
            raise BackendConfigurationError(
                f"vault: {settings.auth_method} login at {where} returned no token"
            )
        self._set_token(token)
        self._schedule_renewal(auth.get("lease_duration"), auth.get("renewable"))
        log.debug("vault: logged in with %s", settings.auth_method)


class _Hidden:
    """A credential held in memory with a masked repr."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "_Hidden('**********')"
