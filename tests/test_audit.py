"""Audit events: what each operation records, where, and what happens when a sink fails."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.errors import (
    AuditError,
    IntegrityError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretNotFoundError,
)
from secure_secrets import SecureSecretsManager

CANARY = "CANARY-a51f0e-must-never-be-logged"
CHAIN_KEYS = {"seq", "prev", "mac"}  # the HMAC chain (see test_audit_chain.py)
EVENT_KEYS = {
    "event_id",
    "timestamp",
    "operation",
    "backend",
    "secret_name",
    "outcome",
    "error_type",
    "actor",
    "details",
}


def audit_file(home: Path) -> Path:
    return home / "state" / "secure-secrets" / "log" / "audit.jsonl"


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "secure-secrets" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def failing_sink_config(home: Path, required: bool) -> None:
    """A jsonl sink whose parent "directory" is a regular file, so opening it always fails
    (a read-only directory would not stop root)."""
    home.mkdir(parents=True, exist_ok=True)
    blocker = home / "not-a-directory"
    blocker.write_text("a file where the log directory should be\n")
    write_config(
        home,
        f"""
        [audit.jsonl]
        required = {str(required).lower()}
        path = "{blocker / "audit.jsonl"}"
        """,
    )


# --- the jsonl sink (default) ----------------------------------------------------------------


def test_events_go_to_the_default_jsonl_file_with_private_modes(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    stored = manager.store_secret("db/password", "v")
    path = audit_file(isolated_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    manager.retrieve_secret("db/password")
    manager.list_secrets()
    rotated = manager.rotate_encryption_key()
    deleted = manager.delete_secret("db/password")

    events = read_events(path)
    assert [e["operation"] for e in events] == ["store", "retrieve", "list", "rotate", "delete"]
    assert all(set(e) == EVENT_KEYS | CHAIN_KEYS for e in events)
    assert all(e["outcome"] == "success" and e["error_type"] is None for e in events)
    assert {k: v for k, v in events[0].items() if k not in CHAIN_KEYS} == stored.to_dict()
    assert events[3]["event_id"] == rotated.event_id
    assert events[4]["event_id"] == deleted.event_id
    assert len({e["event_id"] for e in events}) == 5
    assert events[1]["secret_name"] == "db/password"
    assert events[1]["backend"] == "file"
    assert events[2]["details"] == {"count": 1}
    for event in events:
        assert event["actor"] == {
            "user": stored.actor.user,
            "pid": os.getpid(),
            "host": stored.actor.host,
        }
        stamp = dt.datetime.fromisoformat(event["timestamp"])
        assert stamp.utcoffset() == dt.timedelta(0)


def test_retrieve_emits_an_event(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("k", "v")
    before = len(read_events(audit_file(isolated_home)))
    assert SecureSecretsManager().retrieve_secret("k") == "v"
    events = read_events(audit_file(isolated_home))
    assert len(events) == before + 1
    assert events[-1]["operation"] == "retrieve"
    assert events[-1]["secret_name"] == "k"
    assert events[-1]["outcome"] == "success"


def test_failed_operation_emits_a_failure_event_with_the_error_type(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("missing")
    with pytest.raises(SecretNotFoundError):
        manager.delete_secret("missing")
    with pytest.raises(InvalidSecretValueError):
        manager.store_secret("typed", [CANARY])  # type: ignore[arg-type]
    events = read_events(audit_file(isolated_home))
    assert [(e["operation"], e["outcome"], e["error_type"]) for e in events] == [
        ("retrieve", "failure", "SecretNotFoundError"),
        ("delete", "failure", "SecretNotFoundError"),
        ("store", "failure", "InvalidSecretValueError"),
    ]
    assert [e["secret_name"] for e in events] == ["missing", "missing", "typed"]
    # no keyring yet: written without the audit key, outside the chain (mac null, no seq)
    assert all(set(e) == EVENT_KEYS | {"mac"} and e["mac"] is None for e in events)
    assert CANARY not in audit_file(isolated_home).read_text()


def test_invalid_name_event_has_no_secret_name(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    for bad in (f"../{CANARY}", f"/{CANARY}", f"{CANARY}\x00"):
        with pytest.raises(InvalidSecretNameError):
            manager.store_secret(bad, "value")
    events = read_events(audit_file(isolated_home))
    assert len(events) == 3
    for event in events:
        assert event["secret_name"] is None
        assert event["outcome"] == "failure"
        assert event["error_type"] == "InvalidSecretNameError"
    assert CANARY not in audit_file(isolated_home).read_text()


def test_failed_rotation_is_audited(
    isolated_home: Path, secret_file_name: Callable[[str], str]
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("broken", "v")
    path = isolated_home / "data" / "secure-secrets" / "store" / secret_file_name("broken")
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(IntegrityError):
        manager.rotate_encryption_key()
    last = read_events(audit_file(isolated_home))[-1]
    assert (last["operation"], last["outcome"], last["error_type"]) == (
        "rotate",
        "failure",
        "IntegrityError",
    )


def test_canary_value_never_reaches_the_audit_file(isolated_home: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("c", CANARY)
    manager.store_secret("c", CANARY.encode())
    assert manager.retrieve_secret("c") == CANARY.encode()
    manager.rotate_encryption_key()
    with pytest.raises(InvalidSecretNameError):
        manager.retrieve_secret(CANARY + "/..")
    manager.delete_secret("c")
    text = audit_file(isolated_home).read_text()
    assert len(text.splitlines()) == 6
    assert CANARY not in text


def test_configured_path_and_log_dir_override(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = isolated_home / "elsewhere" / "events.jsonl"
    write_config(isolated_home, f'[audit.jsonl]\npath = "{custom}"\n')
    SecureSecretsManager().store_secret("k", "v")
    assert [e["operation"] for e in read_events(custom)] == ["store"]
    assert stat.S_IMODE(custom.stat().st_mode) == 0o600
    assert not audit_file(isolated_home).exists()

    (isolated_home / "config" / "secure-secrets" / "config.toml").unlink()
    monkeypatch.setenv("SECURE_SECRETS_LOG_DIR", str(isolated_home / "logs"))
    SecureSecretsManager().store_secret("k", "v")
    assert len(read_events(isolated_home / "logs" / "audit.jsonl")) == 1


@pytest.mark.slow
def test_events_from_several_processes_land_in_one_file(isolated_home: Path) -> None:
    SecureSecretsManager().store_secret("parent", "v")
    code = "from secure_secrets import SecureSecretsManager as M; M().store_secret('child', 'v')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    events = read_events(audit_file(isolated_home))
    assert [e["secret_name"] for e in events] == ["parent", "child"]
    assert events[0]["actor"]["pid"] == os.getpid()
    assert events[1]["actor"]["pid"] != os.getpid()


def test_symlinked_audit_file_is_not_followed(isolated_home: Path) -> None:
    link = audit_file(isolated_home)
    link.parent.mkdir(parents=True)
    target = isolated_home / "target.log"
    target.write_text("")
    link.symlink_to(target)
    SecureSecretsManager().store_secret("k", "v")  # best-effort sink: the store still works
    assert target.read_text() == ""


# --- the logging sink ------------------------------------------------------------------------


def test_logging_sink_produces_records(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="secure_secrets.audit")
    manager = SecureSecretsManager(audit_sinks=["logging"])
    event = manager.store_secret("k", CANARY)
    assert manager.retrieve_secret("k") == CANARY
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("nope")

    records = [r for r in caplog.records if r.name == "secure_secrets.audit"]
    assert [r.audit_event["operation"] for r in records] == ["store", "retrieve", "retrieve"]
    assert records[0].audit_event["event_id"] == event.event_id
    assert json.loads(records[0].getMessage()) == event.to_dict()
    assert records[2].audit_event["outcome"] == "failure"
    assert all(r.levelno == logging.INFO for r in records)
    assert CANARY not in caplog.text
    assert not audit_file(isolated_home).exists()  # only the sink that was asked for


def test_logging_sink_options_and_env_selection(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    write_config(
        isolated_home,
        """
        [audit]
        sinks = ["jsonl"]
        [audit.logging]
        logger = "myapp.audit"
        level = "warning"
        """,
    )
    monkeypatch.setenv("SECURE_SECRETS_AUDIT_SINKS", "logging,jsonl")
    SecureSecretsManager().store_secret("k", "v")
    records = [r for r in caplog.records if r.name == "myapp.audit"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert len(read_events(audit_file(isolated_home))) == 1


# --- failing sinks ---------------------------------------------------------------------------


def test_required_sink_failure_refuses_retrieve(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SecureSecretsManager().store_secret("k", CANARY)
    failing_sink_config(isolated_home, required=True)
    manager = SecureSecretsManager()
    returned = []
    with pytest.raises(AuditError) as info:
        returned.append(manager.retrieve_secret("k"))
    assert returned == []
    assert "jsonl" in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert CANARY not in caplog.text
    assert any("audit sink 'jsonl' failed" in r.getMessage() for r in caplog.records)


def test_required_sink_failure_keeps_the_original_error_of_a_failed_operation(
    isolated_home: Path,
) -> None:
    failing_sink_config(isolated_home, required=True)
    with pytest.raises(SecretNotFoundError):
        SecureSecretsManager().retrieve_secret("missing")


@pytest.mark.parametrize("operation", ["store", "delete"])
def test_required_sink_failure_refuses_changes(isolated_home: Path, operation: str) -> None:
    SecureSecretsManager().store_secret("k", "old")
    failing_sink_config(isolated_home, required=True)
    with pytest.raises(AuditError):
        if operation == "store":
            SecureSecretsManager().store_secret("k", "new")
        else:
            SecureSecretsManager().delete_secret("k")
    assert SecureSecretsManager(audit_sinks=[]).retrieve_secret("k") == "old"


def test_best_effort_sink_failure_lets_the_operation_succeed(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SecureSecretsManager().store_secret("k", CANARY)
    failing_sink_config(isolated_home, required=False)
    manager = SecureSecretsManager()
    assert manager.retrieve_secret("k") == CANARY
    manager.store_secret("k2", "v2")
    assert manager.retrieve_secret("k2") == "v2"
    errors = [r for r in caplog.records if "audit sink 'jsonl' failed" in r.getMessage()]
    assert len(errors) == 3
    assert all(r.levelno == logging.ERROR for r in errors)
    assert CANARY not in caplog.text


def test_required_must_be_a_bool(isolated_home: Path) -> None:
    from secrets_core.errors import ConfigError

    write_config(isolated_home, '[audit.jsonl]\nrequired = "yes"\n')
    with pytest.raises(ConfigError, match=r"audit\.jsonl\.required"):
        SecureSecretsManager()


def test_event_ids_are_version_4_uuids() -> None:
    import uuid

    from secrets_core.audit import new_event_id

    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    for event_id in ids:
        parsed = uuid.UUID(hex=event_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed.hex == event_id


LOGIN_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")


@pytest.mark.parametrize("kept", [(), *((v,) for v in LOGIN_VARIABLES), ("USER", "USERNAME")])
def test_the_actor_is_the_user_getpass_finds(
    kept: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without importing getpass (and termios) the actor's user is still the one
    ``getpass.getuser()`` returns: the first login variable set, else the password database."""
    import getpass

    from secrets_core.audit import _events

    for position, variable in enumerate(LOGIN_VARIABLES):
        if variable in kept:
            monkeypatch.setenv(variable, f"user-from-{variable.lower()}-{position}")
        else:
            monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(_events, "_actor_cache", None)
    assert _events.current_actor().user == getpass.getuser()


def test_every_exported_audit_name_resolves_to_its_module_object() -> None:
    """The package exports lazily (PEP 562): each name in ``__all__`` still imports, is the
    object its module defines, and an unknown name is an AttributeError."""
    import importlib

    from secrets_core import audit

    for name in audit.__all__:
        home = importlib.import_module(f"secrets_core.audit.{audit._HOMES[name]}")
        assert getattr(audit, name) is getattr(home, name)
        assert name in dir(audit)
    assert set(audit.__all__) == set(audit._HOMES)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        audit.nope  # noqa: B018


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_records_its_own_pid(isolated_home: Path) -> None:
    """The actor is computed once per process, not per event: a child forked after the
    parent's first event must still record its own pid (and chain on in the same log)."""
    manager = SecureSecretsManager()
    manager.store_secret("fork/s", "v")  # the parent's actor is cached now
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            manager.retrieve_secret("fork/s")
        finally:
            os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    manager.retrieve_secret("fork/s")
    events = read_events(audit_file(isolated_home))
    assert [e["actor"]["pid"] for e in events[-3:]] == [os.getpid(), child, os.getpid()]
    assert manager.verify_audit_log().ok


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_manager_dropped_without_close_leaves_no_descriptor_open(isolated_home) -> None:
    """The jsonl sink's log and checkpoint descriptors are closed when the sink is collected:
    an application that makes managers and forgets them must not run out of descriptors."""
    import gc

    before = _open_descriptors()
    for i in range(20):
        manager = SecureSecretsManager()
        manager.store_secret(f"app/s{i}", "v")
        manager.retrieve_secret(f"app/s{i}")
        del manager
    gc.collect()
    assert _open_descriptors() <= before + 2  # a module-level cache may keep one or two
