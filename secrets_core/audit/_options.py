"""The option tables of the built-in audit sinks (what ``[audit.jsonl]``, ``[audit.logging]``
and ``[audit.alerts]`` accept), apart from the sinks: registering the sinks, which every
start does, imports no sink."""

from secrets_core.plugin._api import ConfigOption

JSONL_OPTIONS = {
    "path": ConfigOption(str, help="audit log file; default: <log_dir>/audit.jsonl"),
    "fsync": ConfigOption(bool, default=False, help="fsync after every event"),
    "chain": ConfigOption(bool, default=True, help="HMAC-chain the lines (tamper-evident)"),
    "hash_names": ConfigOption(
        bool, default=False, help="record secret names as keyed HMACs, not in clear"
    ),
    "rotate_bytes": ConfigOption(
        int, default=0, help="start a new file once the log reaches this size (0: never)"
    ),
    "rotate_days": ConfigOption(
        (int, float), default=0, help="start a new file once the log is this old (0: never)"
    ),
    "keep_rotated": ConfigOption(
        int, default=0, help="rotated files to keep; older ones are deleted (0: keep all)"
    ),
}
LOGGING_OPTIONS = {
    "logger": ConfigOption(str, default="secure_secrets.audit", help="logger name"),
    "level": ConfigOption(str, default="INFO", help="level of the records"),
}
ALERT_OPTIONS = {
    "channel": ConfigOption(str, default="logging", help="logging, webhook or command"),
    "url": ConfigOption(str, help="webhook URL (https, or http to loopback)"),
    "command": ConfigOption(list, help="argv of a command that gets the alert JSON on stdin"),
    "failures_count": ConfigOption(int, default=5, help="failed/denied ops per actor; 0 = off"),
    "failures_window": ConfigOption((int, float), default=60, help="seconds"),
    "distinct_reads_count": ConfigOption(int, default=20, help="distinct reads; 0 = off"),
    "distinct_reads_window": ConfigOption((int, float), default=60, help="seconds"),
    "sensitive": ConfigOption(list, default=[], help="names or prefixes/ to alert on"),
    "stale_key": ConfigOption(bool, default=True, help="alert on reads under old keys"),
}
