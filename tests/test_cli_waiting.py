"""The CLI's "waiting for ..." line (secrets_core/cli/waiting.py): one line after the delay,
nothing for a quick call, no thread left behind, nothing at all off a terminal. The real
thing, on a pty against a stopped OpenBao, is plugins/vault/tests/test_vault_waiting.py."""

from __future__ import annotations

import io
import threading
import time

from secrets_core.cli.waiting import Waiting, watched
from secrets_core.manager import SecretsManager


def test_a_quick_call_says_nothing_and_leaves_no_thread() -> None:
    before = threading.active_count()
    stream = io.StringIO()
    with Waiting("the file backend", stream, delay=0.2):
        pass
    assert stream.getvalue() == ""
    assert threading.active_count() == before


def test_a_slow_call_says_once_what_it_waits_for() -> None:
    before = threading.active_count()
    stream = io.StringIO()
    with Waiting("vault at https://v:8200 (budget 15 s)", stream, delay=0.05):
        time.sleep(0.4)  # several delays long: still one line
    assert stream.getvalue() == "waiting for vault at https://v:8200 (budget 15 s)...\n"
    assert threading.active_count() == before


def test_off_a_terminal_the_manager_is_not_wrapped() -> None:
    manager = SecretsManager()
    assert watched(manager, None) is manager  # pytest's stderr is no terminal: no cost


def test_a_backend_without_describe_is_named() -> None:
    assert SecretsManager().assembly.backend_description("file") == "the file backend"
