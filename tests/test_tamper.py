"""Tampering with what is on disk gives a typed error, never a wrong value.

One place for the whole tamper suite, run for the ``file`` backend and the ``env`` backend
with an env file, always through a manager that reads keys and values from disk:

* every byte of a secret's record, each bit class (lowest bit, highest bit), flipped;
* the record truncated at every length;
* two secrets' records swapped, or one copied over another;
* the key file deleted, or replaced by another store's key; the keyring replaced by another
  store's, edited at every byte, or rolled back to its copy from before a rotation.

A read after tampering must raise a ``SecretsError`` or return exactly the stored value
(a few bits carry no information, e.g. the unused low bits of a base64 group). What cannot
be detected is pinned at the end and documented in docs/security.md (rolling back a record,
or the whole store together with its keyring). The file backend's own corruption tests are
in plugins/file/tests/test_file_faults.py; the audit log's in tests/test_audit_chain.py.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.errors import (
    EncryptionError,
    IntegrityError,
    KeyNotAvailableError,
    SecretNotFoundError,
    SecretsError,
)
from secure_secrets import SecureSecretsManager

VICTIM, OTHER = "db/password", "api/key"
VALUES: dict[str, str | bytes] = {VICTIM: "victim-value-é", OTHER: b"other-\x00-value"}
# The env backend's variables for them, as docs/containers.md maps names ("/" is "_S").
VARIABLES = {VICTIM: "SECURE_SECRET_db_Spassword", OTHER: "SECURE_SECRET_api_Skey"}
NOT_FOUND, TYPED, SAME = "not found", "typed error", "original value"


class Store:
    """A secure-secrets store on one backend, read back as a fresh process would."""

    def __init__(self, backend: str, home: Path, file_name: Callable[[str], str]) -> None:
        self.backend = backend
        self.file_name = file_name
        self.data_dir = home / "data" / "secure-secrets"
        self.env_file = home / "app" / "secrets.env"
        self.backends = {"env": {"env_file": str(self.env_file)}} if backend == "env" else None
        manager = self.manager()
        for name, value in VALUES.items():
            manager.store_secret(name, value)
        manager.close()
        forget_process_environment()

    def manager(self) -> SecureSecretsManager:
        return SecureSecretsManager(default_backend=self.backend, backends=self.backends)

    def path(self, name: str) -> Path:
        """The file holding ``name``'s record."""
        if self.backend == "file":
            return self.data_dir / "store" / self.file_name(name)
        return self.env_file

    def span(self, name: str) -> tuple[int, int]:
        """Where ``name``'s record is in :meth:`path` (the env file: its line)."""
        data = self.path(name).read_bytes()
        if self.backend == "file":
            return 0, len(data)
        start = data.index(VARIABLES[name].encode() + b"=")
        return start, data.index(b"\n", start) + 1

    def outcome(self, manager: SecureSecretsManager, name: str) -> str:
        """Read ``name``: SAME, NOT_FOUND or TYPED; anything else fails the test."""
        manager.backend().close()  # drop the env backend's parsed-file cache
        try:
            got = manager.retrieve_secret(name)
        except SecretNotFoundError:
            return NOT_FOUND
        except SecretsError as exc:
            assert str(VALUES[name]) not in str(exc)
            return TYPED
        assert type(got) is type(VALUES[name]) and got == VALUES[name], f"{name}: wrong value"
        return SAME


def forget_process_environment() -> None:
    """The env backend reads the process environment before the file; a new process that
    was not given the variables sees only the file."""
    for variable in [v for v in os.environ if v.startswith("SECURE_SECRET_")]:
        del os.environ[variable]


@pytest.fixture(params=["file", "env"])
def store(
    request: pytest.FixtureRequest, isolated_home: Path, secret_file_name: Callable[[str], str]
) -> Store:
    return Store(request.param, isolated_home, secret_file_name)


def byte_class(store: Store, data: bytes, index: int) -> str:
    """Which part of the record byte ``index`` of ``data`` (the record) is in."""
    token_at = data.find(b"ss1:" if store.backend == "file" else b"sse1:")
    if store.backend == "file":
        metadata_at = data.rfind(b'{"created"')
        for end, label in ((4, "magic"), (36, "checksum"), (token_at, "header and name")):
            if index < end:
                return label
        return "envelope" if index < metadata_at else "metadata"
    if index < data.index(b"="):
        return "variable name"
    return "token" if index < len(data) - 1 else "newline"


# --- the record ---------------------------------------------------------------------------


@pytest.mark.slow
def test_every_flipped_bit_is_a_typed_error_never_a_wrong_value(store: Store) -> None:
    path, (start, end) = store.path(VICTIM), store.span(VICTIM)
    original = path.read_bytes()
    manager = store.manager()
    outcomes: Counter[tuple[str, str]] = Counter()
    for index in range(start, end):
        part = byte_class(store, original[start:end], index - start)
        for mask in (0x01, 0x80):
            tampered = bytearray(original)
            tampered[index] ^= mask
            path.write_bytes(bytes(tampered))
            outcomes[part, store.outcome(manager, VICTIM)] += 1
            # A flipped newline can join the next line to the victim's: that secret is gone
            # from the file (not found), as if its line were deleted (not detectable).
            assert store.outcome(manager, OTHER) in (SAME, TYPED, NOT_FOUND)
    path.write_bytes(original)
    assert store.outcome(manager, VICTIM) == SAME
    parts = {part for part, _ in outcomes}
    if store.backend == "file":
        assert parts == {"magic", "checksum", "header and name", "envelope", "metadata"}
        assert set(outcomes) == {(part, TYPED) for part in parts}, outcomes
    else:
        assert parts == {"variable name", "token", "newline"}
        # A renamed variable is another (unknown) secret; the token's flips are errors but
        # for the unused low bits of the last base64 character.
        assert outcomes["token", SAME] <= 2, outcomes
        assert outcomes["token", TYPED] > 100, outcomes
        assert outcomes["variable name", SAME] == 0, outcomes


@pytest.mark.slow
def test_every_truncation_is_a_typed_error_never_a_wrong_value(store: Store) -> None:
    path, (start, end) = store.path(VICTIM), store.span(VICTIM)
    original = path.read_bytes()
    manager = store.manager()
    seen: Counter[str] = Counter()
    for keep in range(start, end):
        path.write_bytes(original[:keep])
        seen[store.outcome(manager, VICTIM)] += 1
    path.write_bytes(original)
    if store.backend == "file":
        assert seen == {TYPED: end - start}
    else:  # a line cut inside the variable name names another secret, if any
        assert seen[TYPED] > 100 and seen[SAME] <= 1, seen


def test_swapped_records_are_typed_errors(store: Store) -> None:
    manager = store.manager()
    if store.backend == "file":
        a, b = store.path(VICTIM), store.path(OTHER)
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
    else:
        text = store.env_file.read_text()
        line_a = next(line for line in text.splitlines() if line.startswith(VARIABLES[VICTIM]))
        line_b = next(line for line in text.splitlines() if line.startswith(VARIABLES[OTHER]))
        value_a, value_b = line_a.split("=", 1)[1], line_b.split("=", 1)[1]
        text = text.replace(line_a, f"{VARIABLES[VICTIM]}={value_b}")
        text = text.replace(line_b, f"{VARIABLES[OTHER]}={value_a}")
        store.env_file.write_text(text)
    for name in VALUES:
        assert store.outcome(manager, name) == TYPED
        with pytest.raises(IntegrityError, match=f"'{name}'"):
            manager.retrieve_secret(name)


def test_a_record_copied_over_another_is_a_typed_error(store: Store) -> None:
    manager = store.manager()
    if store.backend == "file":
        shutil.copyfile(store.path(OTHER), store.path(VICTIM))
    else:
        lines = store.env_file.read_text().splitlines()
        other = next(line for line in lines if line.startswith(VARIABLES[OTHER]))
        lines = [
            f"{VARIABLES[VICTIM]}={other.split('=', 1)[1]}"
            if line.startswith(VARIABLES[VICTIM])
            else line
            for line in lines
        ]
        store.env_file.write_text("\n".join(lines) + "\n")
    assert store.outcome(manager, VICTIM) == TYPED
    with pytest.raises(IntegrityError, match=f"'{VICTIM}'"):
        manager.retrieve_secret(VICTIM)
    assert store.outcome(manager, OTHER) == SAME


# --- keys -----------------------------------------------------------------------------------


def another_store(tmp_path: Path) -> Path:
    """The data dir of an unrelated store (its own key file and keyring)."""
    other = tmp_path / "elsewhere"
    SecureSecretsManager(data_dir=other, audit_sinks=[]).store_secret("unrelated", "x")
    return other


def test_a_deleted_key_file_is_a_typed_error(store: Store) -> None:
    (store.data_dir / "master.key").unlink()
    manager = store.manager()
    for name in VALUES:
        with pytest.raises(KeyNotAvailableError):
            manager.retrieve_secret(name)
    with pytest.raises(KeyNotAvailableError):
        manager.store_secret("new/one", "v")  # no new key is made over stored ciphertext


def test_another_stores_key_file_is_a_typed_error(store: Store, tmp_path: Path) -> None:
    shutil.copyfile(another_store(tmp_path) / "master.key", store.data_dir / "master.key")
    manager = store.manager()
    for name in VALUES:
        with pytest.raises(EncryptionError):
            manager.retrieve_secret(name)


@pytest.mark.slow
def test_another_stores_keyring_is_a_typed_error(store: Store, tmp_path: Path) -> None:
    other = another_store(tmp_path)
    for files in (["keyring.json"], ["keyring.json", "master.key"]):
        for file in files:
            shutil.copyfile(other / file, store.data_dir / file)
        manager = store.manager()
        for name in VALUES:
            assert store.outcome(manager, name) == TYPED, files


@pytest.mark.slow
def test_a_keyring_edited_at_any_byte_never_gives_a_wrong_value(
    isolated_home: Path, secret_file_name: Callable[[str], str]
) -> None:
    # the keyring is the same whatever the backend
    store = Store("file", isolated_home, secret_file_name)
    path = store.data_dir / "keyring.json"
    original = path.read_bytes()
    seen: Counter[str] = Counter()
    for index in range(len(original)):
        tampered = bytearray(original)
        tampered[index] ^= 0x01
        path.write_bytes(bytes(tampered))
        try:
            manager = store.manager()
            outcome = store.outcome(manager, VICTIM)
            if outcome == SAME:  # a write also checks the authenticated ledger of stores
                manager.store_secret("probe/write", "placeholder")
            seen[outcome] += 1
        except SecretsError:
            seen[TYPED] += 1
    path.write_bytes(original)
    assert seen[TYPED] > len(original) // 2, seen
    assert set(seen) <= {TYPED, SAME}, seen


@pytest.mark.slow
@pytest.mark.parametrize("keep_old_keys", [0, 1])
def test_a_keyring_rolled_back_past_a_rotation_is_a_typed_error(
    store: Store, keep_old_keys: int
) -> None:
    keyring = store.data_dir / "keyring.json"
    before = keyring.read_bytes()
    manager = store.manager()
    manager.rotate_encryption_key(keep_old_keys=keep_old_keys)
    forget_process_environment()
    keyring.write_bytes(before)  # an attacker (or a backup restore) puts the old copy back
    fresh = store.manager()
    for name in VALUES:
        with pytest.raises(KeyNotAvailableError, match=f"'{name}'"):
            fresh.retrieve_secret(name)


# --- what cannot be detected (see docs/security.md, "What is not detected") ------------------


def test_not_detected_an_older_copy_of_one_record(store: Store) -> None:
    """The envelope binds the name, not a version: an older ciphertext of the same secret,
    under a key still in the keyring, reads as the older value."""
    path = store.path(VICTIM)
    older = path.read_bytes()
    store.manager().store_secret(VICTIM, "newer value")
    forget_process_environment()
    path.write_bytes(older)
    assert store.manager().retrieve_secret(VICTIM) == VALUES[VICTIM]


def test_not_detected_a_deleted_record(store: Store) -> None:
    """Nothing lists what a store should hold: a removed record is a missing secret."""
    if store.backend == "file":
        store.path(VICTIM).unlink()
    else:
        start, end = store.span(VICTIM)
        data = store.env_file.read_bytes()
        store.env_file.write_bytes(data[:start] + data[end:])
    manager = store.manager()
    assert store.outcome(manager, VICTIM) == NOT_FOUND
    assert manager.list_secrets() == [OTHER]


@pytest.mark.slow
def test_not_detected_the_whole_store_and_keyring_rolled_back_together(
    store: Store, tmp_path: Path
) -> None:
    """A consistent older copy of everything is an older, valid store. Only the audit log's
    checkpoint, if kept elsewhere, would show it (see tests/test_audit_chain.py)."""
    backup = tmp_path / "backup"
    shutil.copytree(store.data_dir, backup / "data")
    if store.backend == "env":
        shutil.copy2(store.env_file, backup / "secrets.env")
    manager = store.manager()
    manager.store_secret(VICTIM, "newer value")
    manager.rotate_encryption_key(keep_old_keys=0)
    forget_process_environment()
    shutil.rmtree(store.data_dir)
    shutil.copytree(backup / "data", store.data_dir)
    if store.backend == "env":
        shutil.copy2(backup / "secrets.env", store.env_file)
    assert store.manager().retrieve_secret(VICTIM) == VALUES[VICTIM]


def test_the_audit_log_deleted_with_its_checkpoint_is_detected(isolated_home: Path) -> None:
    """Deleting the log alone is reported (tests/test_audit_chain.py); deleting it with its
    checkpoint is too: the keyring anchors the chain's start, so an empty log cannot pass."""
    manager = SecureSecretsManager()
    manager.store_secret(VICTIM, "v")
    log = isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    log.unlink()
    assert not manager.verify_audit_log().ok
    log.with_name(log.name + ".checkpoint").unlink()
    verification = manager.verify_audit_log()
    assert not verification.ok and verification.reason == "log_replaced", verification


# --- the security page's evidence ---------------------------------------------------------------


def test_every_test_the_security_page_cites_exists() -> None:
    """docs/security.md backs each claim with `path::test`; each must name a real test."""
    import re

    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "security.md").read_text()
    cited = set(re.findall(r"`([\w/.-]+\.py)::(\w+)`", text))
    assert len(cited) >= 30, "the page cites its evidence"
    missing = [
        f"{path}::{test}"
        for path, test in sorted(cited)
        if not (root / path).exists() or f"def {test}(" not in (root / path).read_text()
    ]
    assert not missing, f"docs/security.md cites tests that do not exist: {missing}"


def test_the_record_file_fixture_follows_the_documented_layout(
    secret_file_name: Callable[[str], str],
) -> None:
    """tests/conftest.py's ``secret_file_name`` is what docs/file-backend.md documents (the
    plugin's own tests pin its code to the same example)."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "file-backend.md").read_text()
    example = secret_file_name("billing/stripe_key")
    assert example == "mjuwy3djnzts643uojuxazk7nnsxs.secret"
    assert f"`billing/stripe_key` is stored\nas `{example}`" in docs
