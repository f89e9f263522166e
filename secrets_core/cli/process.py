"""The process's start and end: hardening the CLI applies before any key or value is in
memory, and the quick exit of the fast ``get`` path.

On Linux the process is made non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core dump, no
``ptrace`` attach and no ``/proc/PID/environ`` or ``/proc/PID/mem`` for other processes of the
same user, so a child started by ``run`` cannot read the passphrase back from its parent. The
core-file size limit is set to 0 as well. Elsewhere only the core limit applies (where the
platform has one); see docs/security.md for what is and is not protected.

:func:`quick_exit` ends the process as Python's own exit does, minus the interpreter's
teardown (freeing every module and object one by one), which is a tenth of a cold ``get``.
"""

from __future__ import annotations

import os
import sys

_PR_SET_DUMPABLE = 4


def harden() -> None:
    """Best effort: a platform without these calls runs unprotected, as documented."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):
        pass
    if sys.platform.startswith("linux"):
        _no_dump_linux()


def _no_dump_linux() -> None:
    # _ctypes rather than ctypes: the same call for a tenth of the import time (every CLI start
    # pays it).
    try:
        import _ctypes

        process = _ctypes.dlopen(None)  # type: ignore[arg-type]  # None: this process
        prctl = _ctypes.dlsym(process, "prctl")
        _ctypes.call_function(prctl, (_PR_SET_DUMPABLE, 0, 0, 0, 0))
    except (ImportError, AttributeError, OSError):
        pass


def quick_exit(code: int) -> None:
    """Exit with ``code`` the way ``sys.exit`` would (``atexit`` handlers run, standard
    streams flushed, the kernel releases files and locks), without the interpreter's teardown.
    Returns instead, leaving the normal exit to the caller, whenever that could differ: a
    non-daemon thread is still running (Python would wait for it) or a stream cannot be
    flushed (Python reports that itself)."""
    threading = sys.modules.get("threading")
    if threading is not None and any(
        thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
        for thread in threading.enumerate()
    ):
        return
    import atexit

    atexit._run_exitfuncs()  # as at a normal exit, and then they are gone: never run twice
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
