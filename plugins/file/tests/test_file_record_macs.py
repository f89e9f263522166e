"""The backend's side of record MACs: which format it writes, and upgrading on rewrite.

The attacks (an older version made current, reordering, forged metadata, a downgrade) run
through a real manager and keyring in tests/test_record_authentication.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from secure_secrets_file import record as rec
from secure_secrets_file.backend import FileBackend, file_name

from secrets_core.errors import IntegrityError, KeyNotAvailableError
from secrets_core.plugin import RecordKey

KEY = RecordKey(os.urandom(32), legacy_readable=True)


def magic(backend: FileBackend, name: str) -> bytes:
    return (backend.root / file_name(name)).read_bytes()[:4]


def test_with_a_record_key_records_are_macs_without_one_the_unkeyed_format(
    tmp_path: Path,
) -> None:
    keyed = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    keyed.write("k", "token-1")
    assert magic(keyed, "k") == rec.MAGIC
    with pytest.raises(KeyNotAvailableError, match="no keyring"):
        FileBackend(tmp_path / "store").read("k")
    with pytest.raises(IntegrityError, match="fails authentication"):
        FileBackend(tmp_path / "store", record_key=lambda: RecordKey(os.urandom(32), True)).read(
            "k"
        )
    FileBackend(tmp_path / "plain").write("k", "token-1")
    assert magic(FileBackend(tmp_path / "plain"), "k") == rec.LEGACY_MAGIC


def test_a_rewrite_upgrades_an_unkeyed_record_even_when_no_value_changes(tmp_path: Path) -> None:
    FileBackend(tmp_path / "store").write("k", "token-1")
    FileBackend(tmp_path / "store").write("k", "token-2")
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    assert backend.read_version("k", 1) == "token-1", "an unkeyed record is read"
    assert backend.rewrite_versions("k", lambda token: token) == 0
    assert magic(backend, "k") == rec.MAGIC
    strict = FileBackend(tmp_path / "store", record_key=lambda: RecordKey(KEY.key, False))
    assert [strict.read_version("k", v) for v in (1, 2)] == ["token-1", "token-2"]


def as_ssf3(backend: FileBackend, name: str) -> None:
    """Rewrite ``name``'s record as the previous version wrote it: HMAC-SHA256 (SSF3)."""
    path = backend.root / file_name(name)
    body = path.read_bytes()[36:]
    path.write_bytes(rec.HMAC_MAGIC + hmac.digest(KEY.key, body, "sha256") + body)


def test_a_record_of_the_previous_keyed_format_is_read_and_upgraded(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    backend.write("k", "token-1")
    backend.write("k", "token-2")
    as_ssf3(backend, "k")
    strict = FileBackend(tmp_path / "store", record_key=lambda: RecordKey(KEY.key, False))
    assert [strict.read_version("k", v) for v in (1, 2)] == ["token-1", "token-2"]
    assert dict(strict.iter_stored_values()) == {"k": ["token-1", "token-2"]}
    assert strict.rewrite_versions("k", lambda token: token) == 0
    assert magic(strict, "k") == rec.MAGIC, "a rotation rewrites it as SSF4"
    path = backend.root / file_name("k")
    ssf4 = path.read_bytes()
    as_ssf3(backend, "k")
    ssf3 = path.read_bytes()
    for forged in (
        ssf3[:-1] + bytes([ssf3[-1] ^ 1]),  # an SSF3 record edited after its MAC
        rec.HMAC_MAGIC + ssf4[4:],  # a BLAKE2b tag labelled HMAC, and the other way round
        rec.MAGIC + ssf3[4:],
    ):
        path.write_bytes(forged)
        with pytest.raises(IntegrityError, match="fails authentication"):
            strict.read("k")


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 127, 128, 129, 1000, 100_000])
def test_the_record_mac_is_keyed_blake2b_over_stem_and_body_ssf3s_hmac_sha256(size: int) -> None:
    data = os.urandom(size)
    auth = rec.Authenticator(lambda: KEY)
    blake = hashlib.blake2b(b"mzxw6/" + data, key=KEY.key, digest_size=32, person=b"ss-file-record")
    assert auth.mac(data, b"mzxw6") == blake.digest()
    assert auth.mac(data, b"mzxw6") != auth.mac(data, b"mzxw7"), "the file's stem is bound"
    assert auth.mac(data, b"x", rec.HMAC_MAGIC) == hmac.digest(KEY.key, data, "sha256")
    assert auth.mac(memoryview(data), b"x") == auth.mac(data, b"x"), "the state is not consumed"
    assert auth.mac(memoryview(data), b"", rec.HMAC_MAGIC) == auth.mac(data, b"", rec.HMAC_MAGIC)
    assert rec.Authenticator(None).mac(data, b"x") is None


VALUES = st.one_of(st.binary(max_size=40), st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(VALUES, min_size=1, max_size=12),
    VALUES,
    st.integers(min_value=1, max_value=12),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
def test_a_spliced_write_is_the_record_decoded_appended_and_encoded(
    values: list[bytes | str], new: bytes | str, keep: int, custom: dict[str, str]
) -> None:
    """A write splices the retained versions' bytes (``record.appended``) instead of decoding
    every one: the file must be exactly what decoding, appending and encoding would make."""
    auth, file = rec.Authenticator(lambda: KEY), file_name("app/key")
    versions = [rec.StoredVersion(i + 1, f"t{i}", v) for i, v in enumerate(values)]
    raw = rec.encode(rec.Record("app/key", "t0", "t0", custom, versions), file, auth)
    spliced = rec.appended(raw, "app/key", file, auth, new, "now", keep)
    record = rec.decode(raw, "app/key", file, auth)
    record.versions.append(rec.StoredVersion(len(values) + 1, "now", new))
    del record.versions[:-keep]
    record.updated = "now"
    assert spliced == (rec.encode(record, file, auth), len(values) + 1)


def test_a_spliced_write_checks_the_record_it_splices(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    backend.write("k", b"1")
    path = backend.root / file_name("k")
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    with pytest.raises(IntegrityError, match="fails authentication"):
        backend.write("k", b"2")
    raw = rec.encode(
        rec.Record("k", "t", "t", {}, [rec.StoredVersion(1, "t", b"1")]),
        file_name("k"),
        rec.Authenticator(None),
    )
    assert (
        rec.appended(raw, "k", file_name("k"), rec.Authenticator(lambda: KEY), b"2", "t", 10)
        is None
    ), "SSF2: decode it"


@pytest.mark.parametrize("keep", [52, 60, 80])
def test_a_record_cut_inside_its_name_is_called_truncated_not_anothers(
    tmp_path: Path, keep: int
) -> None:
    """The stored name is only compared where the file holds all of it: a record cut short
    inside its name fails authentication, it is not "another secret's record"."""
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    name = "app/" + "n" * 40
    backend.write(name, b"v")
    path = backend.root / file_name(name)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(IntegrityError, match="fails authentication") as caught:
        backend.read(name)
    assert "another secret's record" not in str(caught.value)
