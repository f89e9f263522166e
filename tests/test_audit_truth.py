"""An audit trail that tells the truth (issue 17): forgeries by someone who can edit the log
but holds no key never verify, and honest calls made without the key are reported as what
they are, never as tampering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from secrets_core.cli import errors as exit_codes
from secrets_core.cli.app import cli
from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import KeyNotAvailableError, SecretNotFoundError


def log_path(home: Path) -> Path:
    return home / "state" / "secure-secrets" / "log" / "audit.jsonl"


def checkpoint_path(home: Path) -> Path:
    return log_path(home).with_name("audit.jsonl.checkpoint")


def records(home: Path) -> list[dict]:
    return [json.loads(line) for line in log_path(home).read_text().splitlines()]


SCRIPT = [sys.executable, "-c", "from secrets_core.cli import main; main()"]


def console(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real console script (its stderr is what a user sees)."""
    return subprocess.run([*SCRIPT, *args], env=env, capture_output=True, timeout=60, check=False)


def verify_cli(*extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", *extra])
    return result.exit_code, result.output


@pytest.fixture
def chained(isolated_home: Path) -> SecureSecretsManager:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    manager.delete_secret("team/db")
    return manager


def unauthenticated_copy(home: Path) -> list[dict]:
    """What an attacker without the key writes: the real events minus the delete, plus a fake
    purge blamed on someone else, with no MACs."""
    forged = []
    for number, record in enumerate(records(home), 1):
        if record["operation"] == "delete":
            continue
        forged.append(dict(record, seq=number, prev="0" * 64, mac=None))
    fake = dict(forged[-1], operation="purge", seq=len(forged) + 1)
    fake["actor"] = dict(fake["actor"], user="bob")
    return [*forged, fake]


def write_records(home: Path, lines: list[dict]) -> None:
    log_path(home).write_text("".join(json.dumps(line) + "\n" for line in lines))


# --- 1. the anchored chain ------------------------------------------------------------------


@pytest.mark.parametrize("checkpoint", ["deleted", "unauthenticated", "kept"])
def test_a_log_replaced_by_unauthenticated_lines_fails(chained, isolated_home, checkpoint) -> None:
    write_records(isolated_home, unauthenticated_copy(isolated_home))
    if checkpoint == "deleted":
        checkpoint_path(isolated_home).unlink()
    elif checkpoint == "unauthenticated":
        checkpoint_path(isolated_home).write_text('{"cmac":null,"mac":null,"seq":2,"size":0}\n')
    result = chained.verify_audit_log()
    assert not result.ok and result.status == "tampered", result
    assert result.reason == "log_replaced", result
    code, output = verify_cli()
    assert code == exit_codes.INTEGRITY and "ok" not in output.split(":")[0], output


def test_an_emptied_log_without_its_checkpoint_fails(chained, isolated_home) -> None:
    log_path(isolated_home).unlink()
    checkpoint_path(isolated_home).unlink()
    result = chained.verify_audit_log()
    assert not result.ok and result.reason == "log_replaced", result


def test_a_chain_restarted_after_a_forged_start_fails(chained, isolated_home) -> None:
    """The attacker replaces the log and deletes the checkpoint; later honest events chain on
    from the forged start. The keyring's anchor names the real start, so this fails."""
    write_records(isolated_home, unauthenticated_copy(isolated_home))
    checkpoint_path(isolated_home).unlink()
    SecureSecretsManager().store_secret("team/other", "v")
    result = chained.verify_audit_log()
    assert not result.ok and result.reason == "anchor_mismatch", result


def test_a_missing_or_unauthenticated_checkpoint_fails(chained, isolated_home) -> None:
    checkpoint = checkpoint_path(isolated_home)
    saved = checkpoint.read_bytes()
    checkpoint.unlink()
    assert chained.verify_audit_log().reason == "checkpoint_missing"
    state = json.loads(saved)
    checkpoint.write_text(json.dumps(dict(state, cmac=None)))
    assert chained.verify_audit_log().reason == "checkpoint_unauthenticated"


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda ls: ls[1:], "anchor_mismatch"),  # the first event removed
        (lambda ls: [ls[1], ls[0]], "anchor_mismatch"),  # reordered
        (lambda ls: [ls[0], ls[1].replace(b'"delete"', b'"list"')], "mac_mismatch"),  # edited
    ],
)
def test_removed_reordered_or_edited_events_fail(chained, isolated_home, tamper, reason) -> None:
    lines = log_path(isolated_home).read_bytes().splitlines(keepends=True)
    log_path(isolated_home).write_bytes(b"".join(tamper(lines)))
    result = chained.verify_audit_log()
    assert not result.ok and result.reason == reason, result


# --- 2. events written without the key ------------------------------------------------------


def test_calls_without_the_key_are_reported_as_such_not_as_tampering(
    isolated_home, monkeypatch
) -> None:
    """A wrong passphrase, a missing key file and a 0644 key file each leave one event the
    key could not authenticate; verify lists them and the chain still verifies."""
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    key_file = isolated_home / "data" / "secure-secrets" / "master.key"
    saved = key_file.read_bytes()

    key_file.chmod(0o644)  # a key file readable by others
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("team/db")
    key_file.chmod(0o600)
    key_file.unlink()  # a missing key file
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("team/db")
    key_file.write_bytes(saved)
    key_file.chmod(0o600)
    SecureSecretsManager().retrieve_secret("team/db")

    result = manager.verify_audit_log()
    assert not result.ok and result.status == "keyless" and result.problem, result
    assert len(result.keyless) == 2, result
    first = result.keyless[0]
    assert (first["operation"], first["outcome"]) == ("retrieve", "failure")
    assert first["user"] and first["pid"] and first["timestamp"]
    code, output = verify_cli()
    assert code == exit_codes.AUDIT_KEYLESS, output
    assert "2 events written without the audit key" in output
    assert verify_cli("--accept-keyless")[0] == 0


def test_a_wrong_passphrase_is_recorded_and_verify_stays_clean(isolated_home, monkeypatch) -> None:
    monkeypatch.setenv("SECURE_SECRETS_KEY_SOURCE", "passphrase")
    monkeypatch.setenv("SECURE_SECRETS_PASSPHRASE", "right horse battery")
    SecureSecretsManager().store_secret("team/db", "v1")
    monkeypatch.setenv("SECURE_SECRETS_PASSPHRASE", "wrong horse battery")
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("team/db")
    monkeypatch.setenv("SECURE_SECRETS_PASSPHRASE", "right horse battery")
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v2")
    result = manager.verify_audit_log()
    assert result.status == "keyless" and result.reason is None, result
    assert [(e["operation"], e["error_type"]) for e in result.keyless] == [
        ("retrieve", "KeyNotAvailableError")
    ]


@pytest.mark.slow
def test_a_keyless_call_prints_no_warning(isolated_home) -> None:
    SecureSecretsManager().store_secret("team/db", "v1")
    key_file = isolated_home / "data" / "secure-secrets" / "master.key"
    key_file.chmod(0o644)
    done = console("get", "team/db")
    assert done.returncode == exit_codes.INTEGRITY
    assert b"MAC" not in done.stderr and b"audit" not in done.stderr, done.stderr


def test_keyless_events_cannot_replace_authenticated_ones(chained, isolated_home) -> None:
    """An attacker appends keyless lines claiming the chain's sequence numbers: the chain is
    unchanged, the lines are listed as keyless, and removing a real event still fails."""
    lines = records(isolated_home)
    fake = dict(lines[-1], seq=lines[-1]["seq"] + 1, prev=lines[-1]["mac"], mac=None)
    write_records(isolated_home, [*lines, fake])
    result = chained.verify_audit_log()
    assert result.status == "keyless" and len(result.keyless) == 1, result
    write_records(isolated_home, [lines[0], fake])  # the delete replaced by a keyless line
    assert chained.verify_audit_log().status == "tampered"


@pytest.mark.slow
def test_shell_completion_writes_no_event_and_prints_nothing(isolated_home) -> None:
    SecureSecretsManager().store_secret("team/db", "v1")
    before = log_path(isolated_home).read_bytes()
    env = dict(
        os.environ,
        _SECURE_SECRETS_COMPLETE="bash_complete",
        COMP_WORDS="secure-secrets get te",
        COMP_CWORD="2",
    )
    done = console(env=env)
    assert done.returncode == 0 and b"team/db" in done.stdout and done.stderr == b""
    assert log_path(isolated_home).read_bytes() == before


# --- 3. every store is tamper-evident, or says it is not -----------------------------------


def test_a_log_nothing_authenticates_is_never_ok(isolated_home) -> None:
    """A store with no keyring (a Vault-only store, here: only a failed read so far)."""
    manager = SecureSecretsManager()
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("team/none")
    result = manager.verify_audit_log()
    assert not result.ok and result.status == "not_tamper_evident", result
    code, output = verify_cli()
    assert code == exit_codes.AUDIT_NOT_TAMPER_EVIDENT
    assert "this log is not tamper-evident" in output


def test_keyless_events_once_vouched_for_cannot_be_removed_or_edited(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    key_file = isolated_home / "data" / "secure-secrets" / "master.key"
    key_file.chmod(0o644)
    with pytest.raises(KeyNotAvailableError):
        SecureSecretsManager().retrieve_secret("team/db")
    key_file.chmod(0o600)
    SecureSecretsManager().retrieve_secret("team/db")  # vouches for the keyless line
    result = manager.verify_audit_log()
    assert result.status == "keyless" and result.keyless[0]["witnessed_by"] == 2, result
    lines = log_path(isolated_home).read_bytes().splitlines(keepends=True)
    log_path(isolated_home).write_bytes(lines[0] + lines[2])
    assert manager.verify_audit_log().reason == "keyless_altered"
    edited = lines[1].replace(b'"outcome":"failure"', b'"outcome":"success"')
    assert edited != lines[1]
    log_path(isolated_home).write_bytes(lines[0] + edited + lines[2])
    assert manager.verify_audit_log().reason == "keyless_altered"


def test_events_from_before_the_store_had_a_key_leave_verify_ok(isolated_home) -> None:
    manager = SecureSecretsManager()
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("team/none")
    manager.store_secret("team/db", "v1")
    result = manager.verify_audit_log()
    assert result.ok and result.status == "ok", result
    assert result.keyless[0]["before_key"] and result.keyless[0]["witnessed_by"] == 1
    code, output = verify_cli()
    assert code == 0 and "ok: 2 events, 1 chained, anchored" in output, output


def test_verify_and_tail_never_print_control_characters(isolated_home) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("team/db", "v1")
    lines = records(isolated_home)
    lines.append(dict(lines[0], operation="\x1b]0;owned\x07", seq=None, prev=None, mac=None))
    lines[-1]["actor"] = dict(lines[0]["actor"], user="eve\x1b[2J")
    write_records(isolated_home, lines)
    for args in (["audit", "tail"], ["audit", "tail", "--json"], ["audit", "verify"]):
        output = CliRunner().invoke(cli, args).output
        assert "\x1b" not in output and "\x07" not in output, (args, output)
        assert "\\x1b" in output or "\\u001b" in output, (args, output)
