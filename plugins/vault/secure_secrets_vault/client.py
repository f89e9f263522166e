"""The connection to Vault/OpenBao: one keep-alive HTTP session, authentication, token
renewal, retries with jittered backoff, failover between addresses, error translation.

hvac and requests are imported here, and this module is imported only when a backend or the
Transit cipher is constructed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests
from requests.adapters import HTTPAdapter

from secrets_core.errors import (
    AccessDeniedError,
    BackendConfigurationError,
    SecretsError,
)
from secure_secrets_vault.errors import is_retryable, status_of, translate
from secure_secrets_vault.settings import VaultSettings

log = logging.getLogger("secure_secrets_vault")

T = TypeVar("T")

BACKOFF_BASE = 0.05  # seconds; doubled per attempt, full jitter
BACKOFF_CAP = 2.0
RENEW_AT_FRACTION = 2 / 3  # renew once two thirds of the token's TTL have passed


class VaultClient:
    """Thread-safe. ``call(fn, action, name)`` runs ``fn(hvac_client)`` with retries and turns
    any failure into a secrets_core error that carries neither the token nor a value."""

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        session = requests.Session()
        session.trust_env = False  # no per-request env/netrc/proxy lookups; no env surprises
        pool = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        session.mount("https://", pool)
        session.mount("http://", pool)
        session.verify = settings.verify
        session.cert = settings.client_cert
        self.session = session
        self._index = 0
        self.hvac = hvac.Client(
            url=settings.addresses[0],
            token="",  # never let hvac read VAULT_TOKEN or ~/.vault-token on its own
            verify=settings.verify,
            cert=settings.client_cert,
            timeout=settings.timeout,
            namespace=settings.namespace,
            session=session,
        )
        self._auth_lock = threading.Lock()
        self._authenticated = False
        self._renew_at: float | None = None  # monotonic time, None: nothing to renew

    def __repr__(self) -> str:
        return f"VaultClient({self.where})"

    @property
    def where(self) -> str:
        return self.settings.where(self._index)

    def close(self) -> None:
        self.session.close()

    # --- calls --------------------------------------------------------------------------------

    def call(self, fn: Callable[[hvac.Client], T], action: str, name: str | None = None) -> T:
        settings = self.settings
        attempt = 0
        deadline = 0.0
        relogged = False
        while True:
            delay = -1.0
            failover = False
            error: SecretsError | None = None
            try:
                if not self._authenticated or (
                    self._renew_at is not None and time.monotonic() >= self._renew_at
                ):
                    self._authenticate()
                return fn(self.hvac)
            except Exception as exc:  # every failure is translated below
                if isinstance(exc, SecretsError):
                    error = exc
                elif is_retryable(exc) and attempt < settings.max_retries:
                    now = time.monotonic()
                    deadline = deadline or now + settings.retry_budget
                    delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311
                    if now + delay > deadline:
                        delay = -1.0
                    failover = True
                if delay < 0 and error is None:
                    if (
                        not relogged
                        and (settings.auth_method != "token" or settings.token_file is not None)
                        and status_of(exc) in (401, 403)
                    ):
                        # The login token may have expired (log in again), or Vault Agent may
                        # have written a new token to token_file (read it again).
                        relogged = True
                        self._authenticated = False
                        delay = 0.0
                    else:
                        error = translate(exc, action, name, self.where)
                del exc
            if error is not None:
                raise error  # outside the except block: nothing third-party is chained
            if failover:
                log.debug("vault: retrying %s (attempt %d) on %s", action, attempt + 1, self.where)
            if failover:
                self._failover()
            attempt += 1
            time.sleep(delay)

    def _failover(self) -> None:
        """Try the next address (a no-op with one address)."""
        if len(self.settings.addresses) > 1:
            self._index = (self._index + 1) % len(self.settings.addresses)
            self.hvac.adapter.base_uri = self.settings.addresses[self._index]

    # --- authentication -----------------------------------------------------------------------

    def _authenticate(self) -> None:
        with self._auth_lock:
            if self._authenticated and (
                self._renew_at is None or time.monotonic() < self._renew_at
            ):
                return  # another thread did it
            if self._authenticated and self._renew_at is not None and self._renew():
                return
            if self.settings.auth_method == "token":
                self._use_token(self.settings.current_token())
            else:
                self._login()
            self._authenticated = True

    def _use_token(self, token: str) -> None:
        self.hvac.token = token
        self._renew_at = None
        try:
            info = self.hvac.auth.token.lookup_self()["data"]
        except Exception as exc:  # lookup is optional (policy may forbid it)
            if is_retryable(exc):
                raise  # call() retries, then translates
            return
        self._schedule_renewal(info.get("ttl"), info.get("renewable"))

    def _schedule_renewal(self, ttl: Any, renewable: Any) -> None:
        if isinstance(ttl, int) and ttl > 0:
            self._renew_at = time.monotonic() + ttl * RENEW_AT_FRACTION
            self._renewable = bool(renewable)
        else:
            self._renew_at = None

    def _renew(self) -> bool:
        """Renew the current token; False when it cannot be renewed (then log in again)."""
        if not getattr(self, "_renewable", False):
            if self.settings.auth_method == "token":
                self._renew_at = None  # nothing to do; it will expire
                return True
            return False
        try:
            auth = self.hvac.auth.token.renew_self()["auth"]
        except Exception:  # fall back to a fresh login / the old token
            log.debug("vault: token renewal failed")
            return self.settings.auth_method == "token"
        self._schedule_renewal(auth.get("lease_duration"), auth.get("renewable"))
        log.debug("vault: token renewed")
        return True

    def _login(self) -> None:
        settings = self.settings
        secret = settings.login_secret()
        mount = settings.auth_mount
        result: dict[str, Any] | None = None
        error: SecretsError | None = None
        try:
            if settings.auth_method == "approle":
                result = self.hvac.auth.approle.login(
                    role_id=settings.role_id, secret_id=secret, mount_point=mount,
                    use_token=False,
                )  # fmt: skip
            elif settings.auth_method == "kubernetes":
                result = self.hvac.auth.kubernetes.login(
                    role=settings.role, jwt=secret, mount_point=mount, use_token=False
                )
            else:
                result = self.hvac.auth.jwt.jwt_login(
                    role=settings.role, jwt=secret, path=mount, use_token=False
                )
        except Exception as exc:
            if is_retryable(exc):
                raise  # call() retries, then translates
            status = status_of(exc)
            if status in (400, 401, 403):
                error = AccessDeniedError(
                    f"vault: {settings.auth_method} login at {self.where} was refused: the "
                    "credentials are wrong, expired or already used up"
                )
            else:
                error = translate(exc, f"log in with {settings.auth_method}", None, self.where)
            del exc
        del secret
        if error is not None:
            raise error
        auth = (result or {}).get("auth") or {}
        token = auth.get("client_token")
        if not token:
            raise BackendConfigurationError(
                f"vault: {settings.auth_method} login at {self.where} returned no token"
            )
        self.hvac.token = token
        self._schedule_renewal(auth.get("lease_duration"), auth.get("renewable"))
        log.debug("vault: logged in with %s", settings.auth_method)
