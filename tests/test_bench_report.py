"""The performance report's harness works: benchmarks/bench_report.py, at its smallest (tiny
counts, no Vault, no CLI, no peers), runs each section in a subprocess and prints one table whose
every row has a figure, a floor, a ratio consistent with the two and a verdict consistent with
its target. The figures themselves are not judged here (machines are noisy; see
docs/performance.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
REPORT = BENCHMARKS / "bench_report.py"
HEADER = ["section", "measurement", "ours", "floor / peer", "ratio", "target", "result"]
RATIO = re.compile(r"^(\d+(\.\d+)?(e-\d+)?x|-)$")
TARGET = re.compile(r"^(<=|>=) (\d+(\.\d+)?)x$")


def load_common():  # type: ignore[no-untyped-def]
    name = "_bench_common_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / "bench_common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


def test_smoke_report_prints_one_consistent_table(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, str(REPORT), "--smoke", "--only", "file,audit,rotation,env",
         "--sizes", "10,100", "--markdown", "--json", str(rows_file)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("secure-secrets performance report: smoke run, ")
    assert "machine: " in out and "targets met" in out

    table = [line for line in out.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in table]
    assert cells[0] == HEADER
    assert set(table[1]) == {"|", "-"}
    body = cells[2:]
    assert all(len(row) == len(HEADER) for row in body), body
    sections = [row[0] for row in body]
    assert {"file", "audit", "rotation", "env"} <= set(sections)
    assert not {"vault", "cli", "peers"} & set(sections), "--only must leave them out"
    names = {row[1] for row in body}
    for expected in ("get, 10 stored", "set, 10 stored", "get, 100 stored", "set, 100 stored",
                     "get scaling, 100 stored vs 10", "set scaling, 100 stored vs 10",
                     "rotate 50 secrets (file backend)",
                     "get: manager.retrieve_secret (audit off)"):  # fmt: skip
        assert expected in names, f"{expected!r} missing from {sorted(names)}"
    for row in body:
        assert RATIO.match(row[4]), row
        assert row[6] in {"pass", "MISS", "info"}, row
        assert (row[5] == "-") == (row[6] == "info"), row

    data = json.loads(rows_file.read_text())
    assert data["level"] == "smoke" and data["seconds"] > 0
    rows = data["rows"]
    assert [r["name"] for r in rows] == [row[1] for row in body]
    judged = 0
    for row in rows:
        match = TARGET.match(row["target"])
        if match is None:
            continue
        judged += 1
        limit = float(match.group(2))
        shown = round(row["ratio"], 2)  # judged as printed
        within = shown <= limit if match.group(1) == "<=" else shown >= limit
        assert row["ok"] is within, row
        assert row["ratio"] > 0, row
    assert judged >= 8, "get/set/scaling at two sizes, rotation and env each have a target"

    # The plain-text form of the same rows: a header, a rule, a [section] line per section.
    common = load_common()
    text = common.render([common.Row.from_json(r) for r in rows]).splitlines()
    assert text[0].split()[:2] == ["measurement", "ours"]
    assert set(text[1]) == {"-", " "}
    assert [line for line in text if line.startswith("[")] == [
        f"[{s}]" for s in dict.fromkeys(sections)
    ]
    assert len(text) == 2 + len(set(sections)) + len(rows)


def test_unknown_section_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, str(REPORT), "--only", "file,nosuch"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "nosuch" in result.stderr
