"""Process hardening the CLI applies before any key or value is in memory.

On Linux the process is made non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core dump, no
``ptrace`` attach and no ``/proc/PID/environ`` or ``/proc/PID/mem`` for other processes of the
same user, so a child started by ``run`` cannot read the passphrase back from its parent. The
core-file size limit is set to 0 as well. Elsewhere only the core limit applies (where the
platform has one); see docs/security.md for what is and is not protected.
"""

from __future__ import annotations

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
