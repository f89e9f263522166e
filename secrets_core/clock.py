"""UTC timestamps in the ISO 8601 form events and records carry.

``datetime.isoformat`` costs several microseconds on every audited call; the date and time
of day change once a second, so they are formatted once per second and only the
microseconds are added per call.
"""

import datetime as dt
import time

_cached: tuple[int, str] = (-1, "")


def utc_timestamp() -> str:
    """Now, in UTC, as ``datetime.now(timezone.utc).isoformat(timespec="microseconds")``
    would spell it (``2026-12-02T05:28:32.123456+00:00``)."""
    global _cached
    now_ns = time.time_ns()
    second, micros = divmod(now_ns // 1000, 1_000_000)
    cached_second, prefix = _cached
    if second != cached_second:
        prefix = dt.datetime.fromtimestamp(second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _cached = (second, prefix)
    return f"{prefix}.{micros:06d}+00:00"
