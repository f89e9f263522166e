"""docs/cli.md is executed: every `$ ...` line of its ```console blocks runs, in page order,
in the isolated home (a fresh, empty store), through bash with the installed
`secure-secrets` first on PATH, and must exit 0. Output lines given under a command must
appear in its stdout. ```text blocks are illustrations and are not run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.M | re.S)


@dataclass
class Example:
    line: int
    command: str
    output: list[str] = field(default_factory=list)


def examples(text: str) -> list[Example]:
    found: list[Example] = []
    for block in CONSOLE_BLOCK.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        for offset, line in enumerate(block.group(1).splitlines()):
            if line.startswith("$ "):
                found.append(Example(first + offset, line[2:]))
            elif line.strip() and found:
                found[-1].output.append(line)
    return found


def test_the_page_has_examples_for_every_verb() -> None:
    commands = " ".join(example.command for example in examples(DOC.read_text()))
    for verb in (
        "init", "set", "get", "delete", "restore", "list", "history", "rotate-key", "run",
        "export", "plugins", "config path", "config show", "config validate", "audit tail",
        "doctor",
    ):  # fmt: skip
        assert re.search(rf"secure-secrets (\S+ )*{verb}\b", commands), verb


@pytest.mark.slow
def test_console_examples_run(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    assert (bindir / "secure-secrets").exists(), "the console script is not installed"
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    found = examples(DOC.read_text())
    assert len(found) > 20
    for example in found:
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", example.command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        where = f"docs/cli.md:{example.line}: {example.command}"
        assert result.returncode == 0, f"{where}\nexit {result.returncode}\n{result.stderr}"
        for expected in example.output:
            assert expected in result.stdout, f"{where}\nmissing {expected!r} in\n{result.stdout}"


@pytest.mark.parametrize("fence", ["```python", "```sh", "```bash", "```shell"])
def test_shell_examples_use_console_or_text_fences(fence: str) -> None:
    assert fence not in DOC.read_text()
