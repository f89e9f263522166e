"""The webhook sink: one ``POST`` of ``event.to_json()`` per event, ``check()`` before changes.

Events hold names, outcomes and actors, never values (the core builds them). This module
adds nothing to them, and its errors carry only the receiver's host and an HTTP status or an
exception type: never the URL's path or query (which may hold a token), never a header.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from secrets_core.audit import AuditEvent
from secrets_core.errors import AuditError, ConfigError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could send events to plain http elsewhere: treat it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookSink:
    """POSTs each audit event as JSON; any non-2xx answer or network error raises
    :class:`~secrets_core.errors.AuditError`, and the core applies the sink's ``required``
    policy."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: object) -> WebhookSink:
        """The ``webhook`` factory."""
        return cls(
            url=options["url"],
            timeout=float(options["timeout"]),
            token=options["token"],
            ca_file=options["ca_file"],
        )

    def __init__(
        self, url: str, timeout: float = 5.0, token: str | None = None, ca_file: str | None = None
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ConfigError("option 'url' in [audit.webhook] must be an https:// URL")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ConfigError(
                "option 'url' in [audit.webhook] must use https; plain http is allowed only to "
                "a loopback address (127.0.0.1, ::1, localhost)"
            )
        if not 0 < timeout <= 300:
            raise ConfigError("option 'timeout' in [audit.webhook] must be between 0 and 300")
        self.host = host
        self.timeout = timeout
        self._url = url
        self._headers = {"Content-Type": "application/json", "User-Agent": "secure-secrets"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)  # verifies host and chain
            handlers.append(urllib.request.HTTPSHandler(context=context))
        if _is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))  # never via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebhookSink(host={self.host!r})"

    def _send(self, method: str, body: bytes | None) -> int:
        # The scheme was checked in __init__: https, or http to loopback only.
        request = urllib.request.Request(  # noqa: S310
            self._url, data=body, headers=self._headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
        except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors, bad response
            reason = getattr(exc, "reason", None)
            kind = type(reason).__name__ if isinstance(reason, BaseException) else ""
            raise AuditError(
                f"audit webhook at {self.host} is unreachable ({kind or type(exc).__name__})"
            ) from None

    def check(self) -> None:
        """Raise unless the receiver answers now (any status below 500 counts): called by
        the core before a change when this sink is required, so the change is refused up
        front instead of applied and then reported."""
        with self._lock:
            status = self._send("HEAD", None)
        if status >= 500:
            raise AuditError(f"audit webhook at {self.host} answered HTTP {status}")

    def emit(self, event: AuditEvent) -> None:
        body = event.to_json().encode("utf-8")
        with self._lock:
            status = self._send("POST", body)
        if not 200 <= status < 300:
            raise AuditError(
                f"audit webhook at {self.host} refused event {event.event_id} (HTTP {status})"
            )

    def close(self) -> None:
        pass  # one connection per request: nothing is held open
