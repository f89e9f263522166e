"""The core's own key sources: ``keyfile`` (the zero-config default) and ``env``."""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.descriptors import ConfigOption, PluginContext
from secrets_core.errors import KeyNotAvailableError
from secrets_core.fsutil import PRIVATE_FILE_MODE, ensure_private_dir, fsync_dir, refuse_symlink

KEYFILE_OPTIONS = {
    "path": ConfigOption(str, help="key file; default: <data_dir>/master.key"),
}
ENV_OPTIONS = {
    "variable": ConfigOption(
        str, default="SECURE_SECRETS_KEK", help="variable holding the base64 KEK"
    ),
}


def _decode_key(encoded: bytes | str, length: int, where: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyNotAvailableError(f"{where} does not hold a base64 key") from None
    if len(key) != length:
        raise KeyNotAvailableError(f"{where} holds a {len(key)}-byte key; {length} bytes needed")
    return key


class KeyfileSource:
    """A random KEK in a 0600 file. Like ssh, refuses a key file that others can read."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.path = Path(options.get("path") or context.data_dir / "master.key").expanduser()

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        ensure_private_dir(self.path.parent)
        refuse_symlink(self.path)
        key = os.urandom(length)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, PRIVATE_FILE_MODE)
        except FileExistsError:
            # A key file without a keyring: reuse it rather than overwrite a key that may
            # still protect a backup somewhere.
            return self.load_kek({}, length), {}
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            os.write(fd, base64.b64encode(key) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.path.parent)
        return key, {}

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        refuse_symlink(self.path)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeyNotAvailableError(
                f"key file {self.path} is missing but a keyring exists; restore the key file "
                "from your backup (a new key would not decrypt the stored secrets)"
            ) from None
        except OSError as exc:
            raise KeyNotAvailableError(
                f"key file {self.path} cannot be read: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if mode & 0o077:
                raise KeyNotAvailableError(
                    f"key file {self.path} has mode {mode:04o}, readable by others; "
                    f"run: chmod 600 {self.path}"
                )
            return _decode_key(handle.read(), length, f"key file {self.path}")


class EnvKeySource:
    """A base64 KEK in an environment variable, for containers."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.variable = str(options.get("variable") or "SECURE_SECRETS_KEK")

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        return self.load_kek({}, length), {}

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        encoded = os.environ.get(self.variable)
        if not encoded:
            raise KeyNotAvailableError(
                f"environment variable {self.variable} is not set; set it to a base64 "
                f'{length}-byte key (for example: python -c "import os,base64;'
                f'print(base64.b64encode(os.urandom({length})).decode())")'
            )
        return _decode_key(encoded, length, f"environment variable {self.variable}")
