"""``waiting for vault at https://...:8200 (budget 15 s)...``: one line on stderr when a
backend operation takes longer than about a second, on a terminal only.

:func:`watched` returns the manager itself when stderr is not a terminal (scripts pay
nothing), else a proxy whose public methods each run inside :class:`Waiting`: a
``threading.Timer`` cancelled (and joined) when the call returns. What is waited for comes
from the backend's descriptor (``BackendSpec.describe``), never with a credential. The line
is not printed over a hidden prompt (a passphrase being typed), and at most once per call.
Imports neither click nor, off a terminal, threading.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager

DELAY = 1.0  # seconds an operation may take before the line appears


def _hidden_prompt() -> bool:
    """Whether the terminal is not echoing: someone is typing a passphrase into it."""
    try:
        import termios

        return not termios.tcgetattr(sys.stdin.fileno())[3] & termios.ECHO
    except Exception:  # noqa: BLE001  # no terminal on stdin, or no termios: nothing hidden
        return False


class Waiting:
    """Print ``waiting for <what>...`` on ``stream`` if the block lasts over ``delay``."""

    def __init__(self, what: str, stream: TextIO, delay: float = DELAY) -> None:
        import threading

        self._what, self._stream, self._delay = what, stream, delay
        self._done = threading.Event()
        self._threading = threading

    def _wait_then_say(self) -> None:
        while not self._done.wait(self._delay):
            if not _hidden_prompt():
                self._stream.write(f"waiting for {self._what}...\n")
                self._stream.flush()
                return

    def __enter__(self) -> Waiting:
        self._thread = self._threading.Thread(
            target=self._wait_then_say, name="secure-secrets-waiting", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


class _Watched:
    """The manager, with every public method call inside :class:`Waiting`."""

    def __init__(self, manager: SecretsManager, backend: str | None, stream: TextIO) -> None:
        self._manager, self._backend, self._stream = manager, backend, stream
        self._what: str | None = None

    def _description(self) -> str:
        if self._what is None:
            manager = self._manager
            name = self._backend or manager.default_backend
            self._what = manager.assembly.backend_description(name)
        return self._what

    def __getattr__(self, attribute: str) -> Any:
        found = getattr(self._manager, attribute)
        if attribute.startswith("_") or not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            with Waiting(self._description(), self._stream):  # described here, not in a thread
                return found(*args, **kwargs)

        return call

    def __repr__(self) -> str:
        return repr(self._manager)


def watched(manager: SecretsManager, backend: str | None) -> SecretsManager:
    """``manager``, or on a terminal a proxy that says what a slow call is waiting for."""
    stream = sys.stderr
    if stream is None or not stream.isatty():
        return manager
    proxy: Any = _Watched(manager, backend, stream)
    return proxy  # type: ignore[no-any-return]
