"""The tamper-evident audit log: an attacker who can write the log but lacks the key cannot
forge, edit, delete, reorder or truncate events without `verify_audit_log` reporting it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secure_secrets import SecureSecretsManager
from secure_secrets.exceptions import SecretNotFoundError


def log_path(home: Path) -> Path:
    return home / "state" / "secure-secrets" / "log" / "audit.jsonl"


@pytest.fixture
def manager() -> SecureSecretsManager:
    manager = SecureSecretsManager()
    for i in range(5):
        manager.store_secret(f"chain/s{i}", f"value {i}")
    manager.retrieve_secret("chain/s1")
    return manager


def lines(home: Path) -> list[bytes]:
    return log_path(home).read_bytes().splitlines(keepends=True)


def rewrite(home: Path, new_lines: list[bytes]) -> None:
    log_path(home).write_bytes(b"".join(new_lines))


def test_an_untouched_log_verifies(manager, isolated_home) -> None:
    result = manager.verify_audit_log()
    assert result.ok, result
    assert result.events == 6 and result.chained == 6
    records = [json.loads(line) for line in lines(isolated_home)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["prev"] == p["mac"] for p, r in zip(records, records[1:], strict=False))


def test_the_first_failed_operation_before_any_keyring_is_recorded_unchained(isolated_home) -> None:
    manager = SecureSecretsManager()
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("nothing/yet")
    assert not (isolated_home / "data" / "secure-secrets" / "keyring.json").exists()
    manager.store_secret("first", "v")
    records = [json.loads(line) for line in lines(isolated_home)]
    assert records[0]["mac"] is None and records[1]["mac"] is not None
    assert manager.verify_audit_log().ok


@pytest.mark.slow
@pytest.mark.parametrize(
    "tamper, bad_line",
    [
        (lambda ls: ls[:2] + ls[3:], 3),  # delete a line
        (lambda ls: ls[:1] + [ls[2], ls[1]] + ls[3:], 2),  # reorder two lines
        (lambda ls: ls[:3] + [ls[3].replace(b'"store"', b'"delete"')] + ls[4:], 4),  # edit
        (lambda ls: ls[:4] + [ls[3]] + ls[4:], 5),  # replay a line
    ],
)
def test_deleting_reordering_editing_or_replaying_is_reported(
    manager, isolated_home, tamper, bad_line
) -> None:
    rewrite(isolated_home, tamper(lines(isolated_home)))
    result = manager.verify_audit_log()
    assert not result.ok and result.first_bad_line == bad_line, result


def test_a_forged_line_without_the_key_is_reported(manager, isolated_home) -> None:
    original = lines(isolated_home)
    last = json.loads(original[-1])
    forged = dict(last, seq=last["seq"] + 1, prev=last["mac"], operation="delete", mac="0" * 64)
    rewrite(isolated_home, [*original, json.dumps(forged).encode() + b"\n"])
    result = manager.verify_audit_log()
    assert not result.ok and result.first_bad_line == len(original) + 1
    assert "mac does not match" in (result.problem or "")


def test_truncating_the_log_is_detected_from_the_checkpoint(manager, isolated_home) -> None:
    rewrite(isolated_home, lines(isolated_home)[:-2])
    result = manager.verify_audit_log()
    assert not result.ok and "truncated" in (result.problem or "")


def test_losing_the_log_is_detected(manager, isolated_home) -> None:
    log_path(isolated_home).unlink()
    result = manager.verify_audit_log()
    assert not result.ok and "missing" in (result.problem or "")


def test_the_chain_survives_key_rotation_and_a_new_kek(manager, isolated_home, monkeypatch) -> None:
    manager.rotate_encryption_key()
    import base64
    import os

    monkeypatch.setenv("SECURE_SECRETS_KEK", base64.b64encode(os.urandom(32)).decode())
    manager.change_key_source("env")
    other = SecureSecretsManager(key_source="env")
    other.retrieve_secret("chain/s0")
    assert other.verify_audit_log().ok


APPEND_EVENTS = """
from secure_secrets import SecureSecretsManager
manager = SecureSecretsManager()
for i in range(40):
    manager.retrieve_secret(f"chain/s{i % 5}")
"""


@pytest.mark.slow
def test_concurrent_processes_keep_one_valid_chain(manager, isolated_home) -> None:
    workers = [subprocess.Popen([sys.executable, "-c", APPEND_EVENTS]) for _ in range(3)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]
    result = manager.verify_audit_log()
    assert result.ok, result
    assert result.events == 6 + 3 * 40


def test_names_can_be_recorded_as_hmacs(isolated_home) -> None:
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[audit]\nsinks = ["jsonl"]\n[audit.jsonl]\nhash_names = true\n')
    manager = SecureSecretsManager(config_path=config)
    manager.store_secret("payroll/db", "v")
    manager.retrieve_secret("payroll/db")
    text = log_path(isolated_home).read_text()
    assert "payroll" not in text
    names = {json.loads(line)["secret_name"] for line in text.splitlines()}
    assert len(names) == 1 and names.pop().startswith("hmac-sha256:")
    assert manager.verify_audit_log().ok


# --- the line as the sink spells it --------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from secrets_core.audit._chain import canonical, event_record  # noqa: E402
from secrets_core.audit._events import Actor, AuditEvent  # noqa: E402

_text = st.text(max_size=12)  # any code point: quotes, controls, surrogates, non-ASCII
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_events = st.builds(
    AuditEvent,
    operation=_text,
    backend=st.none() | _text,
    secret_name=st.none() | _text,
    outcome=st.sampled_from(["success", "failure", "denied"]),
    actor=st.builds(Actor, user=_text, pid=st.integers(0, 1 << 31), host=_text),
    event_id=st.none() | _text.filter(bool),
    timestamp=st.none() | _text.filter(bool),
    error_type=st.none() | _text,
    details=st.dictionaries(_text, _json, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(
    event=_events,
    name=st.none() | _text,
    chained=st.booleans(),
    seq=st.integers(1, 1 << 62),
    prev=_text,
    keyless=st.none() | st.dictionaries(_text, _json, max_size=2),
)
def test_an_event_line_is_the_canonical_json_of_its_record(
    event, name, chained, seq, prev, keyless
) -> None:
    """The sink spells a record field by field (no dict, no sort per event); verification
    re-encodes it with `canonical`: both must give the same bytes for every event, or an
    honest line would fail its MAC."""
    record = {**event.to_dict(), "secret_name": name}
    if chained:
        record.update(seq=seq, prev=prev)
        if keyless is not None:
            record["keyless"] = keyless
        assert event_record(event, name, seq, prev, keyless) == canonical(record)
    else:
        assert event_record(event, name) == canonical(record)
    assert canonical(record) == json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
