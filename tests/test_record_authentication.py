"""File records are authenticated with a key held by the keyring (issue 16, item 5).

Someone who can write the store but does not hold the KEK rewrites a record as the format
allows, recomputing the unkeyed SHA-256 checksum: making an older retained version current,
reordering or dropping versions, editing metadata; either keeping the authenticated magic
(``SSF3``) or downgrading the record to the unkeyed format (``SSF2``). Every such record is
an ``IntegrityError`` naming the secret, never a value. A store written before record MACs
(tests/fixtures/legacy_store, made by the earlier code) still opens, is upgraded on write,
and a completed rotation upgrades it whole, after which an unkeyed record is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from secure_secrets_file import record as rec
from secure_secrets_file.backend import file_name

from secrets_core.errors import IntegrityError
from secrets_core.plugin import RecordKey
from secure_secrets import SecureSecretsManager

LEGACY_STORE = Path(__file__).parent / "fixtures" / "legacy_store"
NAME = "db/password"
VALUES = ["value-one-canary", "value-two-canary", "value-three-canary"]


def manager_for(data_dir: Path) -> SecureSecretsManager:
    """A manager on ``data_dir``; its file store is ``store``, relative to the working
    directory, as the legacy fixture recorded it (tests chdir into ``data_dir``)."""
    return SecureSecretsManager(
        data_dir=data_dir, audit_sinks=[], backends={"file": {"path": "store"}}
    )


def record_path(data_dir: Path, name: str, suffix: str = ".secret") -> Path:
    return data_dir / "store" / file_name(name).replace(".secret", suffix)


def rewrite_without_the_key(
    data_dir: Path, name: str, change: Callable[[rec.Record], None], magic: bytes
) -> None:
    """What an attacker can do: change the record, recompute the unkeyed checksum and write
    it with ``magic``. (Decoding with the real key is only this test's shortcut to parse it.)"""
    path = record_path(data_dir, name)
    key = manager_for(data_dir).assembly.record_key()
    record = rec.decode(path.read_bytes(), name, path.name, rec.Authenticator(lambda: key))
    change(record)
    forged = rec.encode(record, path.name, rec.Authenticator(None))  # SSF2: SHA-256, no key
    path.write_bytes(magic + forged[4:])


def old_version_current(record: rec.Record) -> None:
    versions = record.versions
    versions[0].value, versions[-1].value = versions[-1].value, versions[0].value


def versions_reordered(record: rec.Record) -> None:
    versions = record.versions
    versions[0].version, versions[-1].version = versions[-1].version, versions[0].version
    versions.reverse()


def newest_version_dropped(record: rec.Record) -> None:
    del record.versions[-1]


def metadata_edited(record: rec.Record) -> None:
    record.custom["owner"] = "attacker"


ATTACKS = [old_version_current, versions_reordered, newest_version_dropped, metadata_edited]


@pytest.mark.parametrize("magic", [rec.MAGIC, rec.LEGACY_MAGIC], ids=["keyed", "downgraded"])
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.__name__)
def test_a_record_rewritten_without_the_key_is_an_integrity_error(
    isolated_home: Path, attack: Callable[[rec.Record], None], magic: bytes
) -> None:
    data_dir = isolated_home / "data"
    manager = manager_for(data_dir)
    for value in VALUES:
        manager.store_secret(NAME, value, metadata={"owner": "team-a"})
    assert record_path(data_dir, NAME).read_bytes()[:4] == rec.MAGIC
    rewrite_without_the_key(data_dir, NAME, attack, magic)
    reader = manager_for(data_dir)
    for read in (
        lambda: reader.retrieve_secret(NAME),
        lambda: reader.retrieve_secret(NAME, version=1),
        lambda: reader.secret_metadata(NAME),
    ):
        with pytest.raises(IntegrityError) as caught:
            read()
        message = str(caught.value)
        assert f"'{NAME}'" in message
        assert not any(value in message for value in VALUES)
    with pytest.raises(IntegrityError):
        reader.store_secret(NAME, "value-four-canary")  # a write does not launder it


def test_the_record_key_is_not_a_data_key_survives_rotation_and_hides_in_repr(
    isolated_home: Path,
) -> None:
    manager = manager_for(isolated_home / "data")
    manager.store_secret(NAME, VALUES[0])
    before = manager.assembly.record_key()
    assert isinstance(before, RecordKey) and len(before.key) == 32
    assert not before.legacy_readable, "a new keyring has only authenticated records"
    assert before.key.hex() not in repr(before) and "hidden" in repr(before)
    manager.rotate_encryption_key(keep_old_keys=0)
    after = manager_for(isolated_home / "data").assembly.record_key()
    assert after is not None and after.key == before.key
    assert manager_for(isolated_home / "data").retrieve_secret(NAME) == VALUES[0]


@pytest.fixture(autouse=True)
def in_data_dir(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_home / "data").mkdir(mode=0o700, parents=True)
    monkeypatch.chdir(isolated_home / "data")


def copy_legacy_store(home: Path) -> Path:
    data_dir = home / "data"
    data_dir.rmdir()
    shutil.copytree(LEGACY_STORE, data_dir, ignore=shutil.ignore_patterns("README.md"))
    for folder, _dirs, files in os.walk(data_dir):  # git keeps neither 0600 nor 0700
        os.chmod(folder, 0o700)
        for file in files:
            os.chmod(Path(folder) / file, 0o600)
    os.chdir(data_dir)  # the directory was replaced (in_data_dir restores the old cwd)
    return data_dir


def magics(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes()[:4] for p in sorted((data_dir / "store").iterdir())
            if p.suffix in (".secret", ".deleted")}  # fmt: skip


def test_a_store_from_before_record_macs_opens_and_is_upgraded_on_write(
    isolated_home: Path,
) -> None:
    data_dir = copy_legacy_store(isolated_home)
    assert set(magics(data_dir).values()) == {rec.LEGACY_MAGIC}
    manager = manager_for(data_dir)
    assert manager.retrieve_secret("app/multi") == "multi-3"
    assert manager.retrieve_secret("app/multi", version=1) == "multi-1"
    assert manager.retrieve_secret("app/one") == b"one-\x00-bytes"
    metadata = manager.secret_metadata("app/multi")
    assert [v.version for v in metadata.versions] == [1, 2, 3]
    assert metadata.custom == {"owner": "team-a"}
    key = manager.assembly.record_key()
    assert key is not None and key.legacy_readable, "an upgraded keyring may hold SSF2 records"
    manager.store_secret("app/one", "one-2")
    manager.restore_secret("app/gone")
    assert record_path(data_dir, "app/one").read_bytes()[:4] == rec.MAGIC
    assert record_path(data_dir, "app/multi").read_bytes()[:4] == rec.LEGACY_MAGIC
    reader = manager_for(data_dir)
    assert reader.retrieve_secret("app/one") == "one-2"
    assert reader.retrieve_secret("app/one", version=1) == b"one-\x00-bytes"
    assert reader.retrieve_secret("app/multi") == "multi-3"
    assert reader.retrieve_secret("app/gone") == "gone-1"


def test_a_rotation_upgrades_a_legacy_store_and_then_a_downgrade_is_refused(
    isolated_home: Path,
) -> None:
    data_dir = copy_legacy_store(isolated_home)
    manager = manager_for(data_dir)
    manager.rotate_encryption_key()
    assert set(magics(data_dir).values()) == {rec.MAGIC}, "soft-deleted records too"
    key = manager.assembly.record_key()
    assert key is not None and not key.legacy_readable
    rewrite_without_the_key(data_dir, "app/multi", old_version_current, rec.LEGACY_MAGIC)
    for reader in (manager, manager_for(data_dir)):  # the same process, and a new one
        with pytest.raises(IntegrityError, match="downgrade") as caught:
            reader.retrieve_secret("app/multi")
        assert "'app/multi'" in str(caught.value) and "multi-" not in str(caught.value)
    manager.restore_secret("app/gone")
    assert manager_for(data_dir).retrieve_secret("app/gone") == "gone-1"


def test_the_flag_that_refuses_unkeyed_records_cannot_be_edited_away(
    isolated_home: Path,
) -> None:
    data_dir = isolated_home / "data"
    manager = manager_for(data_dir)
    for value in VALUES:
        manager.store_secret(NAME, value)
    rewrite_without_the_key(data_dir, NAME, old_version_current, rec.LEGACY_MAGIC)
    keyring = data_dir / "keyring.json"
    doc = json.loads(keyring.read_text())
    assert doc.pop("records_authenticated") is True
    keyring.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="ledger of stores"):
        manager_for(data_dir).retrieve_secret(NAME)
