"""HTTP to Vault/OpenBao for hvac, straight over a urllib3 connection pool.

hvac calls ``session.request(method, url, ...)`` and reads a ``requests.Response``. Going
through ``requests.Session`` costs about as much client CPU per call as the HTTP exchange
itself (request preparation, setting merges, cookie jars, hooks, adapter lookups); on a busy
machine with many threads that CPU is the throughput limit. :class:`Transport` does only
what a Vault call needs, over the same urllib3 that requests uses:

- TLS as configured (``verify``: on, off, or a CA bundle file or directory; a client
  certificate), and nothing from the environment (no proxies, ``.netrc`` or
  ``REQUESTS_CA_BUNDLE``);
- a timeout clamped to what is left of the calling thread's operation budget
  (``local.deadline``), as one total for connect plus read;
- the newest ``X-Vault-Index`` seen, sent back on every request with
  ``X-Vault-Inconsistent: forward-active-node`` (read-your-writes);
- per thread, the URL a request went to (the redirect target included) and a 429's
  ``Retry-After``;
- redirects followed only to an address that passes the same policy as ``vault_url``, with
  the token sent only to the configured addresses;
- urllib3's errors raised as the ``requests`` exceptions hvac users (and
  :mod:`secure_secrets_vault.errors`) expect.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from secrets_core.errors import BackendConfigurationError
from secure_secrets_vault.settings import VaultSettings, check_address

POOL_SIZE = 32  # keep-alive connections kept per node: one per thread up to 32 threads
MAX_REDIRECTS = 10
RETRY_AFTER_CAP = 5.0  # never believe a Retry-After longer than this
HEADERS = {"User-Agent": "secure-secrets-vault", "Accept": "application/json"}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class BudgetSpentError(requests.exceptions.ConnectTimeout):
    """Raised before sending when the operation's time budget is already spent (nothing was
    sent, so nothing can have been applied)."""


def _index_key(raw: str) -> tuple[str, int] | None:
    """``X-Vault-Index`` is base64 JSON ``{"cluster": ID, "value": "N"}`` (OpenBao); None when
    it is something else (then the newest one seen is kept)."""
    try:
        state = json.loads(base64.b64decode(raw, validate=True))
        return str(state["cluster"]), int(state["value"])
    except (ValueError, KeyError, TypeError):
        return None


def _seconds(header: str | None) -> float | None:
    try:
        return min(max(float(header), 0.0), RETRY_AFTER_CAP) if header else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default


def _tls_options(verify: bool | str, cert: tuple[str, str] | str | None) -> dict[str, Any]:
    """urllib3 pool options for ``verify`` and a client certificate (as requests reads them)."""
    options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
    if verify:
        bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
        options["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    if isinstance(cert, tuple):
        options["cert_file"], options["key_file"] = cert
    elif cert:
        options["cert_file"] = cert
    return options


def _as_requests_error(exc: BaseException) -> requests.exceptions.RequestException:
    """The ``requests`` exception requests itself would raise for urllib3's ``exc``."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.SSLError):
        return requests.exceptions.SSLError(exc)
    # Refused or unresolvable: a ConnectTimeoutError subclass in urllib3, not a timeout here.
    if isinstance(exc, errors.NewConnectionError):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, errors.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc)
    if isinstance(exc, errors.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    return requests.exceptions.ConnectionError(exc)


class Transport:
    """What hvac calls its ``session``: thread-safe, one keep-alive pool per node."""

    def __init__(self, settings: VaultSettings) -> None:
        self.addresses = settings.addresses
        self.allow_insecure_http = settings.allow_insecure_http
        self.read_your_writes = settings.read_your_writes
        self.request_timeout = settings.timeout
        # Read by hvac when it is handed this session (all three are applied here).
        self.verify, self.cert, self.proxies = settings.verify, settings.client_cert, None
        self.local = threading.local()
        self.index: str | None = None  # the newest X-Vault-Index seen
        self._index_key: tuple[str, int] | None = None
        self._index_lock = threading.Lock()
        self._origins = {origin(address) for address in settings.addresses}
        self._timeout = urllib3.Timeout(connect=settings.timeout, read=settings.timeout)
        tls = _tls_options(settings.verify, settings.client_cert)
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=POOL_SIZE, **tls)
        # The configured nodes' pools, by URL root: a dict lookup per request, where the
        # PoolManager parses the URL an extra time, builds a pool key and takes its pool
        # container's lock (every thread, every request). It serves only redirect targets
        # that are not configured.
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        for address in settings.addresses:
            root = _split(address)[0]
            self._pools[root] = urllib3.connection_from_url(
                root, maxsize=POOL_SIZE, **(tls if root.startswith("https:") else {})
            )

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pool.clear()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        allow_redirects: bool = True,
        **_settings: Any,  # hvac's timeout, verify, cert, proxies: this transport's own
    ) -> requests.Response:
        method = method.upper()
        sent = {**HEADERS, **(headers or {})}
        body: bytes | None = None
        if json is not None:
            body = _dumps(json)
            sent["Content-Type"] = "application/json"
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        if params:
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            url = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send(method, url, body, sent)
            location = answer.headers.get("Location")
            if not (allow_redirects and answer.status in _REDIRECTS and location):
                return _response(answer, url)
            url = self._follow(url, location, sent)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                sent.pop("Content-Type", None)
        raise requests.exceptions.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> urllib3.BaseHTTPResponse:
        local = self.local
        deadline = getattr(local, "deadline", None)
        timeout = self._timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0.001:
                raise BudgetSpentError("the operation's time budget is spent")
            each = min(self.request_timeout, left)
            timeout = urllib3.Timeout(total=left, connect=each, read=each)
        index = self.index
        if index is not None and self.read_your_writes:
            headers["X-Vault-Index"] = index
            headers["X-Vault-Inconsistent"] = "forward-active-node"
        local.url = url
        error: requests.exceptions.RequestException | None = None
        root, path = _split(url)
        pool = self._pools.get(root)
        try:
            if pool is None:  # a redirect target that is not a configured node
                answer = self._pool.urlopen(
                    method, url, body=body, headers=headers, redirect=False, retries=False,
                    timeout=timeout,
                )  # fmt: skip
            else:
                answer = pool.urlopen(
                    method, path, body=body, headers=headers, redirect=False, retries=False,
                    timeout=timeout, assert_same_host=False,
                )  # fmt: skip
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = _as_requests_error(exc)
        if error is not None:
            raise error  # outside the except block: urllib3's exception is the error's arg
        seen = answer.headers.get("X-Vault-Index")
        if seen and seen != index:
            self._see(seen)
        if answer.status == 429:
            local.retry_after = _seconds(answer.headers.get("Retry-After"))
        return answer

    def _follow(self, url: str, location: str, headers: dict[str, str]) -> str:
        """The redirect target, if it passes the same policy as ``vault_url`` (https, or
        http to loopback); the token is dropped from ``headers`` unless the target is one of
        the configured addresses."""
        target = urljoin(url, location)
        try:
            check_address(target, self.allow_insecure_http)
        except BackendConfigurationError:
            host = urlsplit(target).hostname
            raise BackendConfigurationError(
                f"vault: the server redirected to {host} over plain http://, which is not a "
                "loopback address; the request (and its token) was not sent there. Point "
                "vault_url at the active node or fix the server's api_addr"
            ) from None
        if origin(target) not in self._origins:
            headers.pop("X-Vault-Token", None)
        return target

    def _see(self, raw: str) -> None:
        key = _index_key(raw)
        with self._index_lock:
            old = self._index_key
            if key is None or old is None or key[0] != old[0] or key[1] > old[1]:
                self.index, self._index_key = raw, key


def _split(url: str) -> tuple[str, str]:
    """``scheme://host[:port]`` and the rest of ``url`` (at least ``/``)."""
    slash = url.find("/", url.find("://") + 3)
    return (url, "/") if slash < 0 else (url[:slash], url[slash:])


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


def _response(answer: urllib3.BaseHTTPResponse, url: str) -> requests.Response:
    """A ``requests.Response`` with what hvac reads: status, headers, body, URL."""
    response = requests.Response()
    response.status_code = answer.status
    response.headers = CaseInsensitiveDict(answer.headers)
    response._content = answer.data
    response.encoding = "utf-8"
    response.reason = answer.reason or ""
    response.url = url
    return response
