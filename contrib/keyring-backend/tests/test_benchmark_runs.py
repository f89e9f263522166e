"""benchmarks/bench_keyring_backend.py runs (a tiny run: the figures come from a real one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_keyring_backend.py"


@pytest.mark.slow
def test_the_benchmark_runs_and_prints_both_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--count", "3", "--rounds", "5", "--peer-rounds", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "<= 1.5x" in result.stdout and ">= 100x" in result.stdout
