"""``-v``/``-vv`` show our loggers only (hardening issue, item 6: ``-vv`` set DEBUG on the root
logger, so every dependency's debug output, a KMS client's response bodies included, reached
stderr). Real processes: logging configuration is process-wide."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

MAIN = "from secrets_core.cli import main; main()"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        input="value\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


def test_vv_shows_no_third_party_debug_lines() -> None:
    result = cli("-vv", "set", "app/token")
    assert result.returncode == 0, result.stderr
    assert "filelock" not in result.stderr  # filelock logs every lock at DEBUG (see below)


def test_log_all_libraries_shows_them_with_a_warning() -> None:
    result = cli("-vv", "--log-all-libraries", "set", "app/token")
    assert result.returncode == 0, result.stderr
    assert "DEBUG filelock" in result.stderr
    assert "do not share this output" in result.stderr
