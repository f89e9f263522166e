"""Dynamic secrets: leased credentials from any Vault/OpenBao secrets engine (database, PKI,
AWS, RabbitMQ...), renewed while in use and revoked afterwards.

    from secure_secrets_vault.dynamic import DynamicSecrets

    dynamic = DynamicSecrets.from_manager(manager)          # the [backends.vault] settings
    with dynamic.leased("database/creds/readonly") as cred:  # renewed in the background
        connect(user=cred["username"], password=cred["password"])
    # revoked here, also when the block raised

A credential lives only in memory: it is never written to a local backend unless asked
(``store_as=``), its ``repr`` is masked, it refuses to be pickled and nothing here logs it.
See docs/dynamic-secrets.md.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import hvac.exceptions

from secrets_core.errors import (
    BackendConfigurationError,
    InvalidSecretNameError,
    SecretAccessError,
    SecretsError,
)
from secure_secrets_vault.client import VaultClient
from secure_secrets_vault.errors import LeaseNotFoundError, LeaseNotRenewableError

log = logging.getLogger("secure_secrets_vault")

RENEW_AT_FRACTION = 2 / 3  # renew once two thirds of the lease's TTL have passed
MIN_RENEW_DELAY = 0.5  # seconds; never renew more often than this
_SEGMENT = re.compile(r"[A-Za-z0-9_.@+=,:~-]+")


def check_path(path: str) -> str:
    """A secrets-engine path such as ``database/creds/readonly`` (no leading ``/v1/``)."""
    cleaned = path.strip().strip("/") if isinstance(path, str) else ""
    segments = cleaned.split("/")
    if (
        len(segments) < 2
        or any(seg in (".", "..") or not _SEGMENT.fullmatch(seg) for seg in segments)
        or segments[0] == "v1"
    ):
        raise InvalidSecretNameError(
            f"not a secrets-engine path: {path!r}; expected e.g. 'database/creds/ROLE' or "
            "'pki/issue/ROLE' (mount, then path; letters, digits and _.@+=,:~- only)"
        )
    return cleaned


@dataclass
class Lease:
    """A lease as the server last reported it. ``duration`` is the TTL granted (seconds) at
    ``obtained`` (``time.monotonic()``); an empty ``lease_id`` means the engine issued no
    lease (nothing to renew or revoke)."""

    lease_id: str
    duration: int
    renewable: bool
    obtained: float

    @property
    def remaining(self) -> float:
        """Seconds left before the lease expires (as far as this process knows)."""
        return max(0.0, self.obtained + self.duration - time.monotonic())


class DynamicCredential:
    """The data of one dynamic secret and its lease. ``cred["password"]`` reads a field;
    ``repr``/``str`` are masked and pickling is refused, so the credential does not leak into
    logs, tracebacks or caches."""

    __slots__ = ("__data", "lease", "path")

    def __init__(self, path: str, data: Mapping[str, Any], lease: Lease) -> None:
        self.path = path
        self.__data = dict(data)
        self.lease = lease

    def __repr__(self) -> str:
        return (
            f"DynamicCredential(path={self.path!r}, lease_id={self.lease_id!r}, "
            f"lease_duration={self.lease_duration}, renewable={self.renewable}, "
            f"fields={sorted(self.__data)!r}, data='**********')"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a DynamicCredential cannot be pickled (it holds a live credential)")

    def __getitem__(self, key: str) -> Any:
        return self.__data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.__data

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields())

    def fields(self) -> list[str]:
        """The credential's field names, sorted (``username``, ``password``...)."""
        return sorted(self.__data)

    def get(self, key: str, default: Any = None) -> Any:
        return self.__data.get(key, default)

    def reveal(self) -> dict[str, Any]:
        """A copy of the credential's data (the secrets engine's ``data`` object)."""
        return dict(self.__data)

    def to_json(self) -> str:
        """The data as JSON text (keys sorted)."""
        return json.dumps(self.__data, sort_keys=True)

    @property
    def lease_id(self) -> str:
        return self.lease.lease_id

    @property
    def lease_duration(self) -> int:
        """The TTL (seconds) granted at issue or at the last renewal."""
        return self.lease.duration

    @property
    def renewable(self) -> bool:
        return self.lease.renewable


@dataclass(frozen=True)
class LeaseInfo:
    """``sys/leases/lookup``: what the server knows about a live lease."""

    lease_id: str
    ttl: int
    renewable: bool
    expire_time: str
    issue_time: str


class _Refused:
    """What a lease call returned instead of raising: the server's (safe) error text."""

    def __init__(self, text: str) -> None:
        self.text = text


def _lease_call(path: str, body: Mapping[str, Any]) -> Any:
    def call(c: hvac.Client) -> Any:
        try:
            return c.adapter.put(path, json=dict(body))
        except hvac.exceptions.InvalidRequest as exc:  # 400: not renewable / not found
            errors = exc.errors if isinstance(exc.errors, list) else [str(exc.errors)]
            return _Refused(" ".join(str(e) for e in errors).lower())

    return call


def _lease_error(refused: _Refused, lease_id: str, action: str) -> SecretsError:
    if "not renewable" in refused.text:
        return LeaseNotRenewableError(
            f"vault: lease '{lease_id}' is not renewable (the secrets engine issues fixed-TTL "
            "leases); read a new credential before this one expires"
        )
    if "not found" in refused.text or "invalid lease" in refused.text:
        return LeaseNotFoundError(
            f"vault: lease '{lease_id}' does not exist: it expired, was revoked or never "
            f"existed (could not {action} it)"
        )
    return SecretAccessError(f"vault: the server refused to {action} lease '{lease_id}'")


class DynamicSecrets:
    """Reads dynamic credentials and manages their leases over one :class:`VaultClient`
    (so with its authentication, TLS, retries and error translation)."""

    def __init__(self, client: VaultClient, manager: Any = None) -> None:
        self.client = client
        self.manager = manager  # for ``store_as``; None: credentials are never stored

    def __repr__(self) -> str:
        return f"DynamicSecrets({self.client.where})"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DynamicSecrets:
        """From an option table as in ``[backends.vault]`` (``vault_url``, ``vault_token``,
        ``auth_method``, ``ca_cert``...); ``VAULT_*`` fill the gaps."""
        from secure_secrets_vault.options import OPTIONS

        try:
            return cls(_client(OPTIONS, options, "[backends.vault]"))
        finally:
            del options  # no credential in this frame's locals if it raised

    @classmethod
    def from_resolved(cls, options: Mapping[str, Any]) -> DynamicSecrets:
        """From a validated ``[backends.vault]`` table (the backend descriptor's ``dynamic``
        factory: what ``run --dynamic`` uses)."""
        from secure_secrets_vault.settings import settings_from_options

        try:
            return cls(VaultClient(settings_from_options(options)))
        finally:
            del options

    @classmethod
    def from_manager(cls, manager: Any, backend_type: str = "vault") -> DynamicSecrets:
        """With the settings of the manager's ``[backends.<backend_type>]`` table (a
        ``vault`` backend). The KV mount is not touched, so a token that may only read
        dynamic secrets works too. ``store_as`` stores through this manager."""
        spec = manager.registry.lookup("backend", backend_type)
        if "vault_url" not in spec.options:
            raise BackendConfigurationError(
                f"backend '{backend_type}' is not a Vault backend; dynamic secrets need a "
                "[backends.vault] table (or DynamicSecrets.from_options)"
            )
        where = f"[backends.{backend_type}]"
        return cls(
            _client(spec.options, manager.settings.backends.get(backend_type, {}), where), manager
        )

    def close(self) -> None:
        self.client.close()

    # --- reading --------------------------------------------------------------------------

    def read(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
        store_as: str | None = None,
        backend_type: str | None = None,
    ) -> DynamicCredential:
        """Read a credential from ``path`` (``database/creds/ROLE``, ``pki/issue/ROLE``...):
        GET without ``params``, POST with them (``method`` overrides). With ``store_as``
        the credential's data is also stored, as JSON, under that name through the manager
        (in ``backend_type``, default: its default backend); nothing is stored otherwise."""
        path = check_path(path)
        verb = (method or ("POST" if params else "GET")).upper()
        if verb not in ("GET", "POST"):
            raise BackendConfigurationError("vault: method must be GET or POST")
        if store_as is not None and self.manager is None:
            raise BackendConfigurationError(
                "store_as needs a manager: use DynamicSecrets.from_manager(manager)"
            )
        url, body = f"/v1/{path}", dict(params or {})

        def fetch(c: hvac.Client) -> Any:
            if verb == "GET":
                return c.adapter.get(url, params=body or None)
            return c.adapter.post(url, json=body)

        credential = _credential(path, self.client.call(fetch, "read dynamic secret", path))
        log.debug(
            "vault: read dynamic secret at %s (lease %s, %ss)",
            path,
            credential.lease_id or "none",
            credential.lease_duration,
        )
        if store_as is not None:
            self.manager.store_secret(store_as, credential.to_json(), backend_type=backend_type)
        return credential

    # --- leases ---------------------------------------------------------------------------

    def renew(self, lease: str | DynamicCredential, increment: int | None = None) -> Lease:
        """Renew a lease (``increment``: the TTL asked for, in seconds; the server may grant
        less, up to the max TTL). Updates a credential passed in. Raises
        :class:`LeaseNotRenewableError` or :class:`LeaseNotFoundError`."""
        lease_id = lease.lease_id if isinstance(lease, DynamicCredential) else _lease_id(lease)
        body: dict[str, Any] = {"lease_id": lease_id}
        if increment is not None:
            if isinstance(increment, bool) or not isinstance(increment, int) or increment < 1:
                raise BackendConfigurationError("vault: increment must be seconds >= 1")
            body["increment"] = increment
        answer = self.client.call(_lease_call("/v1/sys/leases/renew", body), "renew lease")
        if isinstance(answer, _Refused):
            raise _lease_error(answer, lease_id, "renew")
        renewed = Lease(
            lease_id=str(answer.get("lease_id") or lease_id),
            duration=int(answer.get("lease_duration") or 0),
            renewable=bool(answer.get("renewable")),
            obtained=time.monotonic(),
        )
        if isinstance(lease, DynamicCredential):
            lease.lease = renewed
        log.debug("vault: renewed lease %s for %ss", lease_id, renewed.duration)
        return renewed

    def revoke(self, lease: str | DynamicCredential) -> None:
        """Revoke a lease now: the secrets engine deletes the credential (database user,
        certificate on the CRL...). Revoking a lease that is already gone is not an error."""
        lease_id = lease.lease_id if isinstance(lease, DynamicCredential) else _lease_id(lease)
        body = {"lease_id": lease_id}
        answer = self.client.call(_lease_call("/v1/sys/leases/revoke", body), "revoke lease")
        if isinstance(answer, _Refused):
            raise _lease_error(answer, lease_id, "revoke")
        if isinstance(lease, DynamicCredential):
            lease.lease = Lease(lease_id, 0, False, time.monotonic())
        log.debug("vault: revoked lease %s", lease_id)

    def lookup(self, lease: str | DynamicCredential) -> LeaseInfo:
        """The server's view of a live lease; :class:`LeaseNotFoundError` once it expired
        or was revoked."""
        lease_id = lease.lease_id if isinstance(lease, DynamicCredential) else _lease_id(lease)
        body = {"lease_id": lease_id}
        answer = self.client.call(_lease_call("/v1/sys/leases/lookup", body), "look up lease")
        if isinstance(answer, _Refused):
            raise _lease_error(answer, lease_id, "look up")
        data = answer.get("data") or {}
        return LeaseInfo(
            lease_id=str(data.get("id") or lease_id),
            ttl=int(data.get("ttl") or 0),
            renewable=bool(data.get("renewable")),
            expire_time=str(data.get("expire_time") or ""),
            issue_time=str(data.get("issue_time") or ""),
        )

    def keep(
        self, credential: DynamicCredential, *, fraction: float = RENEW_AT_FRACTION
    ) -> LeaseKeeper:
        """A :class:`LeaseKeeper` for a credential already read (a context manager)."""
        return LeaseKeeper(self, credential, fraction=fraction)

    @contextmanager
    def leased(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
        increment: int | None = None,
        fraction: float = RENEW_AT_FRACTION,
        store_as: str | None = None,
        backend_type: str | None = None,
    ) -> Iterator[DynamicCredential]:
        """Read a credential, keep its lease renewed in a background thread while the block
        runs (at ``fraction`` of each TTL), and revoke it when the block ends, also when it
        raises."""
        credential = self.read(
            path, params, method=method, store_as=store_as, backend_type=backend_type
        )
        with LeaseKeeper(self, credential, fraction=fraction, increment=increment):
            yield credential


class LeaseKeeper:
    """Renews a credential's lease in a daemon thread until stopped, then revokes it.

    ``with dynamic.keep(cred):`` -- renewals happen at ``fraction`` of each granted TTL; a
    non-renewable lease is only revoked at the end. A failed renewal is retried (sooner)
    until the lease runs out; ``error`` holds the last failure. On exit the lease is
    revoked; if the block raised, a failed revocation is logged (without the credential)
    and the block's exception propagates."""

    def __init__(
        self,
        dynamic: DynamicSecrets,
        credential: DynamicCredential,
        *,
        fraction: float = RENEW_AT_FRACTION,
        increment: int | None = None,
    ) -> None:
        if not 0 < fraction < 1:
            raise BackendConfigurationError("vault: fraction must be between 0 and 1")
        self.dynamic = dynamic
        self.credential = credential
        self.fraction = fraction
        self.increment = increment
        self.renewals = 0
        self.error: SecretsError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LeaseKeeper({self.credential.lease_id!r}, renewals={self.renewals})"

    def start(self) -> LeaseKeeper:
        lease = self.credential.lease
        if lease.lease_id and lease.renewable and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"lease-keeper {lease.lease_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> DynamicCredential:
        self.start()
        return self.credential

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()
        if not self.credential.lease_id:
            return
        try:
            self.dynamic.revoke(self.credential)
        except SecretsError as error:
            if exc_type is None:
                raise
            log.warning("vault: could not revoke lease %s: %s", self.credential.lease_id, error)

    def _run(self) -> None:
        while True:
            lease = self.credential.lease
            delay = max(MIN_RENEW_DELAY, lease.duration * self.fraction - _age(lease))
            if self.error is not None:  # retry sooner, before the lease runs out
                delay = max(MIN_RENEW_DELAY, lease.remaining / 3)
            if self._stop.wait(delay):
                return
            try:
                renewed = self.dynamic.renew(self.credential, self.increment)
            except (LeaseNotFoundError, LeaseNotRenewableError) as exc:
                self.error = exc
                log.warning("vault: lease %s can no longer be renewed: %s", lease.lease_id, exc)
                return
            except SecretsError as exc:
                self.error = exc
                log.warning("vault: renewing lease %s failed, will retry: %s", lease.lease_id, exc)
                if lease.remaining <= 0:
                    return
                continue
            self.error = None
            self.renewals += 1
            if not renewed.renewable or renewed.duration <= 1:
                return  # at the max TTL: it will expire


def _client(schema: Mapping[str, Any], table: Mapping[str, Any], where: str) -> VaultClient:
    """A client from an option table. The resolved options (credentials included) are
    dropped before any error leaves this frame, so a traceback's locals do not show them."""
    from secrets_core.config import resolve_options
    from secure_secrets_vault.settings import settings_from_options

    resolved: Any = None
    try:
        resolved = resolve_options(schema, table, where, BackendConfigurationError)
        return VaultClient(settings_from_options(resolved))
    finally:
        del resolved, table


def _age(lease: Lease) -> float:
    return time.monotonic() - lease.obtained


def _lease_id(lease_id: str) -> str:
    if not isinstance(lease_id, str) or not lease_id.strip() or "\n" in lease_id:
        raise BackendConfigurationError("vault: a lease id is required (as printed by read)")
    return lease_id.strip()


def _credential(path: str, response: Any) -> DynamicCredential:
    """The credential in a read's response (no local keeps the response afterwards)."""
    if not isinstance(response, Mapping) or not isinstance(response.get("data"), Mapping):
        raise BackendConfigurationError(
            f"vault: '{path}' returned no secret data; is it a secrets-engine path that "
            "issues credentials (e.g. database/creds/ROLE)?"
        )
    lease = Lease(
        lease_id=str(response.get("lease_id") or ""),
        duration=int(response.get("lease_duration") or 0),
        renewable=bool(response.get("renewable")),
        obtained=time.monotonic(),
    )
    credential = DynamicCredential(path, response["data"], lease)
    del response
    return credential
