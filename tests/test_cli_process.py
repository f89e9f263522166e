"""The CLI cannot be read back by the programs it starts (hardening issue, item 1: a child of
``run`` read the passphrase from ``/proc/$PPID/environ``, and a core dump of the CLI would hold
decrypted values). The CLI makes itself non-dumpable and sets its core-file limit to 0 before
it touches a key.

What the kernel then refuses (``/proc/PID/environ`` and ``mem`` to other processes of the same
user, ptrace attach, core dumps) is the kernel's job; these tests check that the CLI really is
in that state, in real processes. The tests run as root, whose CAP_SYS_PTRACE reads any
process whatever its state, so "a same-user child is refused" is demonstrated in
docs/security.md rather than here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process hardening"),
]

# The child prints its parent's (the CLI's) core-file limit; the CLI's own dumpable flag is
# read by the CLI's code path below.
CHILD = (
    "import os\n"
    "limits = open(f'/proc/{os.getppid()}/limits').read().splitlines()\n"
    "print(next(line for line in limits if line.startswith('Max core')))\n"
)
DUMPABLE = (
    "import _ctypes\n"
    "from secrets_core.cli.process import harden\n"
    "harden()\n"
    "prctl = _ctypes.dlsym(_ctypes.dlopen(None), 'prctl')\n"
    "print('dumpable', _ctypes.call_function(prctl, (3, 0, 0, 0, 0)))\n"
)


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    script = shutil.which("secure-secrets", path=str(Path(sys.executable).parent))
    main = [sys.executable, "-c", "from secrets_core.cli import main; main()"]
    return subprocess.run(
        [*([script] if script else main), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


@pytest.mark.slow
def test_the_cli_that_runs_a_child_has_no_core_dumps() -> None:
    assert cli("set", "app/token", stdin="value\n").returncode == 0
    result = cli("run", "--only", "app/token", "--", sys.executable, "-c", CHILD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[4:6] == ["0", "0"], result.stdout


@pytest.mark.slow
def test_hardening_makes_the_process_non_dumpable() -> None:
    result = subprocess.run(
        [sys.executable, "-c", DUMPABLE], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "dumpable 0", result.stderr


def test_the_cli_entry_point_hardens_before_anything_else() -> None:
    """main() must call harden() before importing the library (a key may be read early)."""
    source = (Path(__file__).parents[1] / "secrets_core" / "cli" / "__init__.py").read_text()
    body = source[source.index("def main()") :]
    assert body.index("harden()") < body.index("try_fast_path(")
