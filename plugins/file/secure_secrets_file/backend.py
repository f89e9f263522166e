"""One file per secret, durable atomic writes, a cross-process lock on a separate file.

A secret's file name is the lowercase base32 of its (validated) name, so a name is never used
as a path and names differing only in case stay distinct on case-insensitive filesystems.
Each file holds a 5-byte header (magic + value type) and the value the manager hands over,
which for this backend is always ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from secrets_core.descriptors import PluginContext
from secrets_core.errors import (
    BackendUnavailableError,
    IntegrityError,
    LockTimeoutError,
    SecretNotFoundError,
)
from secrets_core.fsutil import (
    TEMP_SUFFIX,
    atomic_write,
    ensure_private_dir,
    fsync_dir,
    read_private_file,
)

MAGIC = b"SSF1"
SUFFIX = ".secret"
_TYPE_BYTES, _TYPE_TEXT = b"b", b"t"


def file_name(name: str) -> str:
    return base64.b32encode(name.encode()).decode().rstrip("=").lower() + SUFFIX


def secret_name(file: str) -> str | None:
    stem = file[: -len(SUFFIX)].upper()
    try:
        return base64.b32decode(stem + "=" * (-len(stem) % 8)).decode()
    except (binascii.Error, ValueError):
        return None


class FileBackend:
    def __init__(self, root: Path, lock_timeout: float = 10.0) -> None:
        self.root = ensure_private_dir(root)
        self._lock = filelock.FileLock(str(root / ".lock"), timeout=lock_timeout, mode=0o600)
        with self._locked():
            self._sweep_temp_files()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: PluginContext) -> FileBackend:
        root = Path(options.get("path") or context.data_dir / "store").expanduser()
        return cls(root, float(options.get("lock_timeout") or 10.0))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockTimeoutError(
                f"timed out waiting for the store lock {self._lock.lock_file}; another "
                "process is holding it (raise backends.file.lock_timeout if it is busy)"
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    def _sweep_temp_files(self) -> None:
        """Temp files are only ever written under the lock, so any found while holding it
        were left by a crashed writer."""
        for entry in os.scandir(self.root):
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def read(self, name: str) -> bytes | str:
        path = self.root / file_name(name)
        try:
            raw = read_private_file(path)
        except FileNotFoundError:
            raise SecretNotFoundError(f"secret '{name}' not found in the file backend") from None
        except OSError as exc:
            raise BackendUnavailableError(
                f"secret '{name}' cannot be read: {exc.strerror}"
            ) from None
        if raw[:4] != MAGIC or raw[4:5] not in (_TYPE_BYTES, _TYPE_TEXT):
            raise IntegrityError(f"file for secret '{name}' ({path.name}) is corrupt or truncated")
        body = raw[5:]
        if raw[4:5] == _TYPE_TEXT:
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                raise IntegrityError(f"file for secret '{name}' holds invalid text") from None
        return body

    def write(self, name: str, value: bytes | str) -> None:
        if isinstance(value, str):
            record = MAGIC + _TYPE_TEXT + value.encode("utf-8")
        else:
            record = MAGIC + _TYPE_BYTES + value
        with self._locked():
            try:
                atomic_write(self.root / file_name(name), record)
            except OSError as exc:
                raise BackendUnavailableError(
                    f"secret '{name}' could not be written ({exc.strerror}); the previous "
                    "version is intact"
                ) from None

    def delete(self, name: str) -> None:
        with self._locked():
            try:
                os.unlink(self.root / file_name(name))
            except FileNotFoundError:
                raise SecretNotFoundError(
                    f"secret '{name}' not found in the file backend"
                ) from None
            fsync_dir(self.root)

    def list_names(self, prefix: str = "") -> list[str]:
        names = []
        for entry in os.scandir(self.root):
            if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                name = secret_name(entry.name)
                if name is not None and name.startswith(prefix):
                    names.append(name)
        return sorted(names)

    def close(self) -> None:
        pass
