"""The README's command 1 runs docs/examples/quickstart.py: its output must be short and
true (issue 20 item 7): every event the run wrote, the retrieve's included, and where the
audit log is."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "examples" / "quickstart.py"


def test_the_quickstart_prints_every_event_and_the_audit_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runpy.run_path(str(QUICKSTART), run_name="__main__")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 15, "keep the quickstart's output short"
    (where,) = [line for line in lines if line.startswith("audit log ")]
    log = Path(where.removeprefix("audit log ").split(" (")[0])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    printed = [line.split() for line in lines if line.lstrip().startswith("event ")]
    assert [(r["operation"], r["outcome"]) for r in records] == [
        ("store", "success"),
        ("retrieve", "success"),
        ("rotate", "success"),
        ("delete", "success"),
        ("retrieve", "failure"),
    ]
    assert [(p[1], p[3]) for p in printed] == [(r["operation"], r["outcome"]) for r in records]
    assert "matches: True" in out
    assert "demo-value-not-a-real-key" not in out
