"""Loggers that import :mod:`logging` on first use.

``import logging`` also imports traceback, linecache and tokenize: several milliseconds of
every ``secure-secrets get``, which logs nothing when all goes well. Modules on the read path
therefore create their logger with :func:`get_logger`; it behaves as the
``logging.getLogger(name)`` it stands for (handlers, levels and ``caplog`` see the same
logger), which it creates when the first message is logged.
"""

from __future__ import annotations

from typing import Any


class LazyLogger:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        import logging

        return getattr(logging.getLogger(self.name), attribute)

    def __repr__(self) -> str:
        return f"LazyLogger({self.name!r})"


def get_logger(name: str) -> Any:
    """A stand-in for ``logging.getLogger(name)`` that imports logging when first used."""
    return LazyLogger(name)
