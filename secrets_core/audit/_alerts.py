"""The ``alerts`` audit sink: rules over the event stream that raise alerts on suspicious access.

Rules (each configurable in ``[audit.alerts]``, a count of 0 turns a rule off):

- ``failures``: ``failures_count`` failed or denied operations by one actor within
  ``failures_window`` seconds;
- ``distinct_reads``: more than ``distinct_reads_count`` distinct secrets read by one actor
  within ``distinct_reads_window`` seconds;
- ``sensitive``: any access to a name in ``sensitive`` (exact names, or prefixes ending
  in ``/``);
- ``stale_key``: a secret read under a non-primary (old) data key, or a read that failed
  because its key is no longer in the keyring.

Alerts go to a channel: ``logging`` (logger ``secure_secrets.alerts``, WARNING), ``webhook``
(an HTTP POST of the alert as JSON to ``url``) or ``command`` (runs ``command``, an argv
list, with the alert JSON on stdin; no shell). Rules are evaluated per process; for
fleet-wide correlation ship the events to your SIEM as well. Alerts carry names, counts and
event ids, never values.
"""

import _thread
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from secrets_core.audit._events import AuditEvent
from secrets_core.errors import ConfigError
from secrets_core.lazylog import get_logger
from secrets_core.plugin._api import PluginContext

log = get_logger("secure_secrets.alerts")

_TIMEOUT_SECONDS = 5


class Alert(NamedTuple):
    rule: str
    actor: str
    message: str
    event_ids: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(self._asdict(), sort_keys=True)


class AlertsSink:
    """Evaluates the rules on every event and sends each alert that fires to the channel."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.options = options
        self.send = _channel(options)
        self._lock = _thread.allocate_lock()
        self._failures: dict[str, deque[tuple[float, str]]] = defaultdict(deque)
        self._reads: dict[str, deque[tuple[float, str, str]]] = defaultdict(deque)
        self.fired: list[Alert] = []  # for inspection in tests and by embedding code

    def emit(self, event: AuditEvent) -> None:
        actor = f"{event.actor.user}@{event.actor.host}"
        now = time.monotonic()
        with self._lock:
            alerts = [
                alert
                for rule in (self._failures_rule, self._reads_rule, self._sensitive, self._stale)
                if (alert := rule(event, actor, now)) is not None
            ]
        for alert in alerts:
            self.fired.append(alert)
            self.send(alert)

    def close(self) -> None:
        pass

    def _failures_rule(self, event: AuditEvent, actor: str, now: float) -> Alert | None:
        limit = int(self.options["failures_count"])
        if not limit or event.outcome == "success":
            return None
        window = _recent(self._failures[actor], now, float(self.options["failures_window"]))
        window.append((now, event.event_id))
        if len(window) < limit:
            return None
        ids = tuple(event_id for _, event_id in window)
        window.clear()  # one alert per burst, not one per further failure
        return Alert("failures", actor, f"{len(ids)} failed or denied operations", ids)

    def _reads_rule(self, event: AuditEvent, actor: str, now: float) -> Alert | None:
        limit = int(self.options["distinct_reads_count"])
        if not limit or event.operation != "retrieve" or event.secret_name is None:
            return None
        window = _recent(self._reads[actor], now, float(self.options["distinct_reads_window"]))
        window.append((now, event.secret_name, event.event_id))
        names = {name for _, name, _ in window}
        if len(names) <= limit:
            return None
        ids = tuple(event_id for _, _, event_id in window)
        window.clear()
        return Alert("distinct_reads", actor, f"{len(names)} distinct secrets read", ids)

    def _sensitive(self, event: AuditEvent, actor: str, now: float) -> Alert | None:
        name = event.secret_name
        for pattern in self.options["sensitive"] or ():
            if name is not None and (
                name == pattern or (pattern.endswith("/") and name.startswith(pattern))
            ):
                return Alert(
                    "sensitive", actor, f"{event.operation} of sensitive secret '{name}' "
                    f"({event.outcome})", (event.event_id,)
                )  # fmt: skip
        return None

    def _stale(self, event: AuditEvent, actor: str, now: float) -> Alert | None:
        if not self.options["stale_key"] or event.operation != "retrieve":
            return None
        if event.details.get("stale_key") or event.error_type == "KeyNotAvailableError":
            return Alert(
                "stale_key", actor, f"secret '{event.secret_name}' read under an old or "
                "retired data key; finish the rotation, or investigate replayed ciphertext",
                (event.event_id,),
            )  # fmt: skip
        return None


def _recent(window: deque[Any], now: float, seconds: float) -> deque[Any]:
    while window and now - window[0][0] > seconds:
        window.popleft()
    return window


def _channel(options: Mapping[str, Any]) -> Callable[[Alert], None]:
    channel = options["channel"]
    if channel == "logging":
        return lambda alert: log.warning("ALERT %s: %s", alert.rule, alert.to_json())
    if channel == "webhook":
        url = options.get("url")
        parts = urlsplit(url or "")
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ConfigError("[audit.alerts] url must be https (or http to a loopback address)")
        return lambda alert: _post(str(url), alert)
    if channel == "command":
        argv = options.get("command")
        if not argv or not all(isinstance(arg, str) for arg in argv):
            raise ConfigError("[audit.alerts] command must be a non-empty list of strings")
        return lambda alert: _run(list(argv), alert)
    raise ConfigError(
        f"[audit.alerts] channel must be logging, webhook or command, not {channel!r}"
    )


def _post(url: str, alert: Alert) -> None:
    """POST the alert to exactly ``url``: no environment proxy (``HTTPS_PROXY`` would see it)
    and no redirect (it could lead the alert off the checked address)."""
    import urllib.request  # here, not at the top: the alerts sink is registered on every start

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx is raised as an HTTPError instead of followed

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    request = urllib.request.Request(  # noqa: S310 - scheme checked in _channel
        url, data=alert.to_json().encode(), headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=_TIMEOUT_SECONDS):  # nosec B310 - scheme checked
        pass


def _run(argv: list[str], alert: Alert) -> None:
    import subprocess  # nosec B404 - runs the operator's configured argv, never a shell

    subprocess.run(  # noqa: S603  # nosec B603 - configured argv, no shell
        argv, input=alert.to_json().encode(), timeout=_TIMEOUT_SECONDS * 2, check=True
    )
