"""Retention of rotated audit log files (`[audit.jsonl] keep_rotated`): the oldest files go
only after the keyring's anchor has moved to the first line kept, and only if the chain runs
unbroken to it, so deleting files never hides a gap or a forgery."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager


def log_dir(home: Path) -> Path:
    return home / "state" / "secure-secrets" / "log"


def rotated(home: Path) -> list[Path]:
    return sorted(log_dir(home).glob("audit.jsonl.2*"))


def configure(home: Path, keep: int) -> None:
    config = home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[audit.jsonl]\nrotate_bytes = 1500\nkeep_rotated = {keep}\n")


def first_seq(path: Path) -> int:
    return int(json.loads(path.read_bytes().splitlines()[0])["seq"])


def test_only_the_newest_rotated_files_are_kept_and_the_chain_verifies(isolated_home) -> None:
    configure(isolated_home, keep=2)
    manager = SecureSecretsManager()
    for i in range(30):
        manager.store_secret(f"team/s{i}", "v")
    files = rotated(isolated_home)
    assert len(files) == 2, files
    result = manager.verify_audit_log()
    assert result.ok and result.files == 3, result
    # The keyring now anchors the chain at the first line of the oldest file kept.
    anchor = manager.assembly.audit_anchor()
    assert anchor is not None and anchor[0] == first_seq(files[0]) > 1
    assert result.chained == 30 - anchor[0] + 1, result


def test_without_keep_rotated_every_file_stays(isolated_home) -> None:
    configure(isolated_home, keep=0)
    manager = SecureSecretsManager()
    for i in range(30):
        manager.store_secret(f"team/s{i}", "v")
    assert len(rotated(isolated_home)) > 2
    assert manager.assembly.audit_anchor()[0] == 1  # type: ignore[index]


@pytest.mark.parametrize("damage", ["edit a line", "delete a middle file"])
def test_retention_refuses_to_delete_past_damage_and_verify_still_reports_it(
    isolated_home, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    configure(isolated_home, keep=0)  # build up files first, then turn retention on
    manager = SecureSecretsManager()
    for i in range(20):
        manager.store_secret(f"team/s{i}", "v")
    files = rotated(isolated_home)
    assert len(files) >= 4, files
    if damage == "edit a line":
        lines = files[0].read_bytes().splitlines(keepends=True)
        lines[1] = lines[1].replace(b'"store"', b'"purge"')
        files[0].write_bytes(b"".join(lines))
        reason = "mac_mismatch"
    else:
        files[1].unlink()
        reason = "sequence"
    assert manager.verify_audit_log().reason == reason
    configure(isolated_home, keep=1)
    later = SecureSecretsManager()
    with caplog.at_level(logging.WARNING, logger="secrets_core.audit"):
        for i in range(12):
            later.store_secret(f"team/t{i}", "v")
    assert "retention deleted nothing" in caplog.text
    assert files[0].exists()  # the evidence stays
    assert later.assembly.audit_anchor()[0] == 1  # type: ignore[index]
    assert later.verify_audit_log().reason == reason


def test_files_left_before_the_anchor_by_a_cut_short_run_are_passed_over(isolated_home) -> None:
    """The anchor moves before files are deleted: a crash in between leaves whole files
    before the anchor, which verify passes over and the next rotation deletes."""
    configure(isolated_home, keep=0)
    manager = SecureSecretsManager()
    for i in range(20):
        manager.store_secret(f"team/s{i}", "v")
    files = rotated(isolated_home)
    second = json.loads(files[1].read_bytes().splitlines()[0])
    assert manager.assembly.advance_audit_anchor((second["seq"], second["mac"])) == (
        second["seq"],
        second["mac"],
    )
    result = manager.verify_audit_log()
    assert result.ok and result.files == len(files) - 1 + 1, result
    # An anchor never moves back.
    assert manager.assembly.advance_audit_anchor((1, "0" * 64))[0] == second["seq"]  # type: ignore[index]
    configure(isolated_home, keep=len(files))
    later = SecureSecretsManager()
    for i in range(12):
        later.store_secret(f"team/t{i}", "v")
    assert not files[0].exists()
    assert later.verify_audit_log().ok


# 0.9999997 s into a second: formatting the fraction on its own rounded it up to ".000000",
# which sorted the file before one rotated earlier in the same second. A clock at a second's
# edge cannot be produced on demand, so this one test sets it.
EDGE_NS = 1_790_000_000 * 10**9 + 999_999_700


def test_rotated_files_sort_by_name_in_the_order_they_were_rotated(
    isolated_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(isolated_home, keep=0)
    manager = SecureSecretsManager()
    manager.store_secret("team/s0", "v")
    for now_ns in (EDGE_NS - 500_000_000, EDGE_NS, EDGE_NS):  # the last twice: same microsecond
        monkeypatch.setattr("time.time_ns", lambda now_ns=now_ns: now_ns)
        monkeypatch.setattr("time.time", lambda now_ns=now_ns: now_ns / 1e9)
        before = set(rotated(isolated_home))
        while set(rotated(isolated_home)) == before:
            manager.store_secret("team/s0", "v" * 200)
    files = rotated(isolated_home)
    assert len(files) == 3, files
    assert [first_seq(f) for f in files] == sorted(first_seq(f) for f in files)
    assert manager.verify_audit_log().ok
