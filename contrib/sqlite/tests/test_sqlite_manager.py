"""End to end through the public API: SecureSecretsManager(default_backend="sqlite")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from secrets_core.errors import SecretNotFoundError
from secure_secrets import SecureSecretsManager

CANARY = "canary-sqlite-7Hq2-value"


def test_store_versions_metadata_soft_delete_and_rotation(tmp_path: Path) -> None:
    db = tmp_path / "secrets.sqlite3"
    options = {"sqlite": {"path": str(db), "max_versions": 4}}
    manager = SecureSecretsManager(default_backend="sqlite", backends=options)

    first = manager.store_secret("app/db_password", CANARY)
    second = manager.store_secret("app/db_password", b"\x00binary", metadata={"owner": "ops"})
    assert (first.backend, first.details["version"], second.details["version"]) == ("sqlite", 1, 2)
    assert manager.retrieve_secret("app/db_password") == b"\x00binary"
    assert manager.retrieve_secret("app/db_password", version=1) == CANARY
    meta = manager.secret_metadata("app/db_password")
    assert (meta.current_version, dict(meta.custom)) == (2, {"owner": "ops"})
    assert manager.list_secrets("app/") == ["app/db_password"]

    with sqlite3.connect(db) as conn:
        stored = b"".join(row[0] for row in conn.execute("SELECT value FROM versions"))
    assert CANARY.encode() not in stored, "values reach the backend encrypted"

    manager.store_secret("app/soon_deleted", "x")
    manager.delete_secret("app/soon_deleted")
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("app/soon_deleted")

    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("SELECT name || '#' || version, value FROM versions"))
    event = manager.rotate_encryption_key()
    assert event.details["backends"]["sqlite"] == {"rotated": 2, "skipped": 0, "failed": 0}
    with sqlite3.connect(db) as conn:
        after = dict(conn.execute("SELECT name || '#' || version, value FROM versions"))
    assert before.keys() == after.keys()
    assert all(before[k] != after[k] for k in before), "every version, deleted ones too"
    manager.restore_secret("app/soon_deleted")
    manager.close()

    fresh = SecureSecretsManager(default_backend="sqlite", backends=options)
    assert fresh.retrieve_secret("app/db_password", version=1) == CANARY
    assert fresh.retrieve_secret("app/db_password") == b"\x00binary"
    assert fresh.retrieve_secret("app/soon_deleted") == "x"
    fresh.purge_secret("app/soon_deleted")
    assert fresh.list_secrets("") == ["app/db_password"]
    fresh.close()


def test_sqlite_is_listed_as_an_active_plugin() -> None:
    from secure_secrets import list_plugins

    info = {i.name: i for i in list_plugins()}["sqlite"]
    assert (info.distribution, info.status, info.provides) == (
        "secure-secrets-sqlite",
        "active",
        ("backend:sqlite",),
    )
