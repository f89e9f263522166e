"""The CLI on a real terminal (a pty, driven by pexpect): hidden prompts, the interactive
key-source choice, the rotation progress bar, and the newline `get` adds for a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

pexpect = pytest.importorskip("pexpect")

CANARY = "canary-tty-93b2-do-not-echo"
MAIN = "from secrets_core.cli import main; main()"


def spawn(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-c", MAIN, *args],
        env=env if env is not None else dict(os.environ),
        timeout=60,
        use_poll=True,  # poll(), not select(): a descriptor number past 1024 is no failure
        encoding="utf-8",
    )


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return str(child.before)


def cli(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    result = subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        input=input,
        capture_output=True,
        env=env if env is not None else dict(os.environ),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_set_reads_a_hidden_prompt_twice() -> None:
    cli("init")
    child = spawn("set", "pw")
    child.expect("Value for pw: ")
    child.sendline(CANARY)
    child.expect("Repeat for confirmation: ")
    echoed = str(child.before)
    child.sendline(CANARY)
    rest = finish(child)
    assert CANARY not in echoed + rest  # the terminal did not echo it
    assert "stored pw" in rest
    assert cli("get", "pw") == CANARY.encode()


def test_set_prompt_asks_again_when_the_two_entries_differ() -> None:
    child = spawn("set", "pw")
    child.expect("Value for pw: ")
    child.sendline("first-entry")
    child.expect("Repeat for confirmation: ")
    child.sendline("second-entry")
    child.expect("do not match")
    child.expect("Value for pw: ")
    child.sendline("agreed")
    child.expect("Repeat for confirmation: ")
    child.sendline("agreed")
    finish(child)
    assert cli("get", "pw") == b"agreed"


def test_init_asks_for_the_key_source_on_a_terminal(isolated_home: Path) -> None:
    child = spawn("init")
    child.expect("Key source")
    child.sendline("passphrase")
    child.expect("secure-secrets passphrase: ")
    child.sendline("tty passphrase")
    child.expect("repeat the passphrase: ")
    child.sendline("tty passphrase")
    assert "created keyring" in finish(child)
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    assert 'name = "passphrase"' in config.read_text()
    env = dict(os.environ, SECURE_SECRETS_PASSPHRASE="tty passphrase")
    cli("set", "x", input=b"v", env=env)
    assert cli("get", "x", env=env) == b"v"


def test_change_passphrase_on_a_terminal() -> None:
    old = dict(os.environ, SECURE_SECRETS_PASSPHRASE="old passphrase")
    cli("init", "--key-source", "passphrase", env=old)
    cli("set", "p", input=CANARY.encode(), env=old)
    child = spawn("change-passphrase")  # no variable set: every passphrase is prompted
    child.expect("secure-secrets passphrase: ")
    child.sendline("old passphrase")
    child.expect("New passphrase: ")
    child.sendline("new passphrase")
    child.expect("Repeat for confirmation: ")
    child.sendline("new passphrase")
    out = finish(child)
    assert "passphrase changed" in out and "new passphrase" not in out
    new = dict(os.environ, SECURE_SECRETS_PASSPHRASE="new passphrase")
    assert cli("get", "p", env=new) == CANARY.encode()


def test_rotate_key_shows_a_progress_bar_on_a_terminal() -> None:
    cli("init")
    for index in range(5):
        cli("set", f"s{index}", input=b"v")
    child = spawn("rotate-key")
    out = finish(child)
    assert "re-encrypting file" in out and "100%" in out
    assert "file: 5 re-encrypted" in out


def test_get_adds_a_newline_for_a_terminal_only() -> None:
    cli("set", "t", input=b"value")
    child = spawn("get", "t")
    assert finish(child) == "value\r\n"
    assert cli("get", "t") == b"value"


def test_set_rejects_a_bad_name_before_prompting() -> None:
    child = spawn("set", "../bad")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "Value for" not in str(child.before) and "error: invalid secret name" in str(
        child.before
    )
