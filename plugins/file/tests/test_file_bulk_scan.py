"""The bulk scan behind ``secure-secrets verify-keys`` (``FileBackend.iter_stored_values``).

It takes the common record in one pass (``record.bulk_values``) and everything else through
the checked read path; these tests hold it to the same answers and the same refusals as a get,
for every kind of record and every kind of damage.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from secure_secrets_file import record as rec
from secure_secrets_file.backend import FileBackend, _stem_bytes, file_name

from secrets_core.errors import BackendConfigurationError, IntegrityError, KeyNotAvailableError
from secrets_core.macs import Blake2bMac
from secrets_core.plugin import RecordKey

KEY = RecordKey(os.urandom(32), legacy_readable=True)


def scan(backend: FileBackend) -> dict[str, list[bytes | str]]:
    return dict(backend.iter_stored_values())


def test_the_scan_yields_every_version_of_every_kind_of_record(tmp_path: Path) -> None:
    store = tmp_path / "store"
    FileBackend(store).write("legacy/one", b"unkeyed")  # SSF2, read while legacy is readable
    backend = FileBackend(store, record_key=lambda: KEY)
    expected: dict[str, list[bytes | str]] = {"legacy/one": [b"unkeyed"]}
    for length in range(1, 12):  # every stem length mod 8 the names can have
        name = "n" * length
        backend.write(name, name.encode())
        expected[name] = [name.encode()]
    for value in (b"", "text value", b"\x00\xff" * 300):
        backend.write(f"kinds/{len(value)}", value)
        expected[f"kinds/{len(value)}"] = [value]
    for version in (b"v1", b"v2", b"v3"):
        backend.write("multi", version)
    expected["multi"] = [b"v1", b"v2", b"v3"]
    backend.write("gone/soft", b"deleted")
    backend.delete("gone/soft")
    expected["gone/soft"] = [b"deleted"]
    for junk in (
        "ABC.secret",
        "mf.secret",
        "my.secret.txt",
        "zz.txt",
        ".mzxw6.secret",
        "0a.deleted",
    ):
        (store / junk).write_bytes(b"not a record")  # not canonical record names: skipped
    os.mkfifo(store / "a1.secret")  # nor is this, and it is never opened
    assert scan(backend) == expected
    assert isinstance(backend.auth.keyed(), Blake2bMac)


def _flip_last_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))


def _copy_other_record(path: Path) -> None:
    path.write_bytes((path.parent / file_name("other")).read_bytes())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _symlink(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / file_name("other"))


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)


def _loose_mode(path: Path) -> None:
    path.chmod(0o644)


def _stricter_mode(path: Path) -> None:  # not damage: read through the checked path
    path.chmod(0o400)


DAMAGE: dict[str, tuple[Callable[[Path], None], type[Exception] | None, str]] = {
    "flipped byte": (_flip_last_byte, IntegrityError, "fails authentication"),
    "another secret's record": (_copy_other_record, IntegrityError, "another secret's record"),
    "truncated": (_truncate, IntegrityError, "corrupt"),
    "empty": (_empty, IntegrityError, "truncated or not a secure-secrets record"),
    "symlink": (_symlink, BackendConfigurationError, "symlink"),
    "fifo": (_fifo, BackendConfigurationError, "not a regular file"),
    "mode 0644": (_loose_mode, BackendConfigurationError, "mode 0644"),
    "mode 0400": (_stricter_mode, None, ""),
}


@pytest.mark.parametrize("suffix", [".secret", ".deleted"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_the_scan_refuses_exactly_what_a_get_refuses(
    tmp_path: Path, damage: str, suffix: str
) -> None:
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    backend.write("other", b"other's token")
    backend.write("target", b"target's token")
    spoil, error, message = DAMAGE[damage]
    spoil(backend.root / file_name("target"))
    get_error = None
    try:
        backend.read("target")
    except Exception as exc:  # what a get says, to compare with what the scan says
        get_error = exc
    if suffix == ".deleted":
        os.rename(
            backend.root / file_name("target"), backend.root / f"{file_name('target')[:-7]}.deleted"
        )
    if error is None:
        assert get_error is None
        assert scan(backend)["target"] == [b"target's token"]
        return
    assert isinstance(get_error, error) and message in str(get_error)
    with pytest.raises(error) as raised:
        scan(backend)
    assert str(raised.value) == str(get_error).replace(".secret", suffix)


def test_the_scan_without_a_keyring_says_so_as_a_get_does(tmp_path: Path) -> None:
    FileBackend(tmp_path / "store", record_key=lambda: KEY).write("k", b"token")
    keyless = FileBackend(tmp_path / "store")
    with pytest.raises(KeyNotAvailableError, match="no keyring"):
        scan(keyless)
    with pytest.raises(IntegrityError, match="fails authentication"):
        scan(FileBackend(tmp_path / "store", record_key=lambda: RecordKey(os.urandom(32), True)))


def test_a_record_that_is_not_ours_is_refused_by_the_scan(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    backend.write("k", b"token")
    path = backend.root / file_name("k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 12345, 12345)
    with pytest.raises(BackendConfigurationError, match="owned by uid 12345"):
        scan(backend)


def _canonical(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


@given(st.binary(max_size=80))
def test_a_stem_decodes_to_the_bytes_it_encodes(data: bytes) -> None:
    assert _stem_bytes(_canonical(data)) == (data or None)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567ABZ019=_ +-é./", max_size=24))
def test_only_a_canonical_stem_decodes(stem: str) -> None:
    decoded = _stem_bytes(stem)
    assert (decoded is not None) == (stem != "" and _canonical(decoded or b"") == stem)


def test_the_scans_one_pass_takes_only_a_record_whose_mac_binds_its_file(tmp_path: Path) -> None:
    """The one-pass check holds a record to its file by the MAC over the file's stem (no
    name decoding): another secret's genuine record in this file is left to the checked path,
    which refuses it as a get does."""
    backend = FileBackend(tmp_path / "store", record_key=lambda: KEY)
    backend.write("first", b"1")
    backend.write("second", b"2")
    mac = backend.auth.keyed()
    assert mac is not None
    raws = [(backend.root / file_name(n)).read_bytes() for n in ("first", "second")]
    stems = [file_name(n)[:-7].encode() for n in ("first", "second")]
    assert rec.bulk_values(raws, stems, mac) == [(b"first", b"1"), (b"second", b"2")]
    assert rec.bulk_values(raws, stems[::-1], mac) == [None, None]
    assert rec.bulk_values([None, b"SSF4"], stems, mac) == [None, None]
