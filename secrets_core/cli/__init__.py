"""The ``secure-secrets`` command line (built with click; see docs/cli.md).

Start-up is kept short: each verb lives in its own module, imported only when that verb runs,
and verbs import the library (and through it, plugins) only when they need it. The most
frequent call, a plain ``get NAME``, is answered without importing click (see ``fast``) and
ends without the interpreter's teardown (see ``process.quick_exit``).
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point."""
    import sys

    from secrets_core.cli.process import harden

    harden()  # before any key or value is in memory
    from secrets_core.cli.fast import try_fast_path

    code = try_fast_path(sys.argv[1:])
    if code is not None:
        from secrets_core.cli.process import quick_exit

        quick_exit(code)
        raise SystemExit(code)
    from secrets_core.cli.app import cli

    cli.main(prog_name="secure-secrets", complete_var="_SECURE_SECRETS_COMPLETE")
