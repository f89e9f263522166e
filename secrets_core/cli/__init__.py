"""The ``secure-secrets`` command line (built with click; see docs/cli.md).

Start-up is kept short: each verb lives in its own module, imported only when that verb runs,
and verbs import the library (and through it, plugins) only when they need it. The most
frequent call, a plain ``get NAME``, is answered without importing click (see ``fast``) and
runs without the cyclic garbage collector and ends without the interpreter's teardown (see
``process.quick_exit``).
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point."""
    import gc
    import sys

    # A plain get is short and bounded: the cyclic garbage collector's passes over the
    # objects of every import (a tenth of its start) would free nothing it needs. (Importing
    # this module loads nothing else of the core: see ``secrets_core.__getattr__``.)
    gc.disable()
    from secrets_core.cli.process import harden

    harden()  # before any key or value is in memory
    from secrets_core.cli.fast import try_fast_path

    code = try_fast_path(sys.argv[1:])
    if code is not None:
        from secrets_core.cli.process import quick_exit

        quick_exit(code)
        raise SystemExit(code)
    gc.enable()  # any other verb may run long (run, export, rotate-key)
    from secrets_core.cli.app import cli

    cli.main(prog_name="secure-secrets", complete_var="_SECURE_SECRETS_COMPLETE")
