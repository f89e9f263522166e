"""Redacted logs: mask every secret value this process retrieved, in every log record, in the
style of CI log masking.

    import secure_secrets
    secure_secrets.redact_logs()      # after logging is configured

From then on, each value a manager returns (``retrieve_secret``, references, ``run``'s
resolution) is remembered (:mod:`secrets_core.redaction` says how, and what is kept), and
:class:`RedactingFilter` replaces it with ``*****`` in the record's message, its arguments
(the message is formatted once, masked, and the arguments dropped), its exception text and its
stack text.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

from secrets_core import redaction

_MASKED = "_ss_redaction_masked"  # set on a record once masked (several handlers)


class RedactingFilter(logging.Filter):
    """Masks retrieved secret values in a record (message, arguments, exception and stack
    text); never drops a record. Add it to a handler to cover every record it emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        registry = redaction.current()
        fields = record.__dict__
        if registry is None or _MASKED in fields:
            return True
        record.msg = registry.mask(record.getMessage())
        record.args = None
        fields[_MASKED] = True
        if record.exc_info or record.exc_text or record.stack_info:
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if record.exc_text:
                record.exc_text = registry.mask(record.exc_text)
            if record.stack_info:
                record.stack_info = registry.mask(record.stack_info)
        return True


_FILTER = RedactingFilter()


def _all_handlers() -> Iterable[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]  # fmt: skip
    for logger in loggers:
        yield from logger.handlers
    if logging.lastResort is not None:
        yield logging.lastResort


def redact_logs(*handlers: logging.Handler, values: Iterable[str | bytes] = ()) -> RedactingFilter:
    """Start remembering retrieved values and mask them in log records: the filter is added
    to ``handlers``, or by default to every handler configured now (of every logger, and
    logging's last-resort handler). Call it after configuring logging; add the returned
    filter to handlers created later. ``values`` are remembered as if just retrieved."""
    redaction.start(values)
    for handler in handlers or tuple(_all_handlers()):
        handler.addFilter(_FILTER)
    return _FILTER


def stop_redacting() -> None:
    """Remove the filter from every handler and forget every remembered value."""
    redaction.stop()
    for handler in _all_handlers():
        handler.removeFilter(_FILTER)
