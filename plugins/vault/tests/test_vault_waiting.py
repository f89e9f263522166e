"""Issue 20 item 5: on a terminal, a CLI operation that waits on a hung Vault (a real OpenBao
dev server stopped with SIGSTOP) says after about a second what it is waiting for, once,
without the token; off a terminal it says nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

MAIN = "from secrets_core.cli import main; main()"
BUDGET = 4


@pytest.fixture
def hung(bao_factory, tmp_path: Path) -> Iterator[tuple[object, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """A dev server of its own holding secret ``k``, then stopped (SIGSTOP); the CLI's
    environment points at it through a config file."""
    server = bao_factory().start()
    config = tmp_path / "config.toml"
    config.write_text(
        'default_backend = "vault"\n\n[backends.vault]\n'
        f'vault_url = "{server.url}"\nvault_token = {{ env = "WAIT_TEST_TOKEN" }}\n'
        f"timeout = 2\nretry_budget = {BUDGET}\n"
    )
    env = {**os.environ, "SECURE_SECRETS_CONFIG": str(config), "WAIT_TEST_TOKEN": server.token}
    subprocess.run(
        [sys.executable, "-c", MAIN, "set", "k"], input=b"v", env=env, check=True, timeout=60
    )
    os.kill(server.process.pid, signal.SIGSTOP)
    yield server, env
    os.kill(server.process.pid, signal.SIGCONT)


@pytest.mark.slow
@pytest.mark.parametrize("verb", [["get", "k"], ["list"]], ids=["get (fast path)", "list (click)"])
def test_a_terminal_is_told_what_the_cli_waits_for(hung, verb: list[str]) -> None:  # type: ignore[no-untyped-def]
    server, env = hung
    child = pexpect.spawn(
        sys.executable, ["-c", MAIN, *verb], env=env, timeout=BUDGET + 30, encoding="utf-8",
        use_poll=True,  # poll(), not select(): a descriptor number past 1024 is no failure
    )
    child.expect(rf"waiting for vault at {server.url} \(budget {BUDGET} s\)\.\.\.\r\n")
    child.expect(pexpect.EOF)
    child.close()
    shown = f"{child.before}"
    assert child.exitstatus != 0  # the budget ran out: unavailable
    assert "waiting for" not in shown  # said once
    assert server.token not in shown


@pytest.mark.slow
def test_a_script_is_not_told(hung) -> None:  # type: ignore[no-untyped-def]
    _server, env = hung
    result = subprocess.run(
        [sys.executable, "-c", MAIN, "get", "k"], capture_output=True, env=env, timeout=BUDGET + 30
    )
    assert result.returncode != 0
    assert b"waiting for" not in result.stderr
