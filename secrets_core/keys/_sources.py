"""The core's own key sources: ``keyfile`` (the zero-config default), ``env`` and
``passphrase``."""

from __future__ import annotations

import _thread
import base64
import binascii
import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secrets_core.defaults import ENV_KEK, ENV_PASSPHRASE, key_file_path
from secrets_core.errors import ConfigError, IntegrityError, KeyNotAvailableError
from secrets_core.fsutil import (
    PRIVATE_FILE_MODE,
    ensure_private_dir,
    fsync_dir,
    open_regular_file,
    refuse_symlink,
)
from secrets_core.plugin._api import ConfigOption, PluginContext
from secrets_core.secret import SecretValue

KEYFILE_OPTIONS = {
    "path": ConfigOption(str, help="key file; default: <data_dir>/master.key"),
}
PASSPHRASE_OPTIONS = {
    "variable": ConfigOption(str, default=ENV_PASSPHRASE, help="variable holding the passphrase"),
    "prompt": ConfigOption(
        bool, default=True, help="ask on the terminal when the variable is unset"
    ),
}
SALT_SIZE = 16
ENV_OPTIONS = {
    "variable": ConfigOption(str, default=ENV_KEK, help="variable holding the base64 KEK"),
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
        self.path = Path(options.get("path") or key_file_path(context.data_dir)).expanduser()

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
            fd = open_regular_file(self.path)
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
            return _decode_key(handle.read(4096), length, f"key file {self.path}")


class EnvKeySource:
    """A base64 KEK in an environment variable, for containers."""

    def __init__(self, options: Mapping[str, Any], context: PluginContext) -> None:
        self.variable = str(options["variable"])

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        return self._read(
            length,
            f'set it to a new base64 {length}-byte key (for example: python -c "import os,'
            f'base64;print(base64.b64encode(os.urandom({length})).decode())")',
        ), {}

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        # An existing keyring opens only with the key it was made with: never suggest a new one.
        return self._read(length, "set it to the key this keyring was created with")

    def _read(self, length: int, what_to_do: str) -> bytes:
        encoded = os.environ.get(self.variable)
        if not encoded:
            raise KeyNotAvailableError(
                f"environment variable {self.variable} is not set; {what_to_do}"
            )
        return _decode_key(encoded, length, f"environment variable {self.variable}")


# Derived KEKs by (kdf, params, salt, keyed digest of the passphrase): the KDF runs once per
# process per key source, however many managers open the same keyring.
_derived: dict[tuple[object, ...], bytes] = {}
_derived_lock = _thread.allocate_lock()


class PassphraseSource:
    """A KEK derived from a passphrase (NFC-normalised, never empty) with the configured KDF
    and a random 16-byte salt per keyring. The passphrase comes from ``passphrase=`` (used by
    ``change_passphrase``), the environment variable, or a terminal prompt."""

    def __init__(
        self, options: Mapping[str, Any], context: PluginContext, passphrase: str | None = None
    ) -> None:
        if context.kdf is None:
            raise ConfigError("the passphrase key source needs a KDF resolver in its context")
        self._kdf = context.kdf
        self.variable = str(options["variable"])
        self.prompt = options.get("prompt", True) is not False
        self._given = SecretValue(passphrase) if passphrase is not None else None

    def __repr__(self) -> str:
        return f"PassphraseSource(variable={self.variable!r})"

    def _passphrase(self, confirm: bool) -> bytes:
        raw = (
            str(self._given.reveal()) if self._given is not None else os.environ.get(self.variable)
        )
        if raw is None and self.prompt and sys.stdin is not None and sys.stdin.isatty():
            import getpass  # only to prompt: it imports termios

            raw = getpass.getpass("secure-secrets passphrase: ")
            if confirm and getpass.getpass("repeat the passphrase: ") != raw:
                raise KeyNotAvailableError("the two passphrases differ; nothing was changed")
        if raw is None:
            raise KeyNotAvailableError(
                f"no passphrase: set {self.variable}, or run interactively to be prompted"
            )
        import unicodedata  # only a passphrase needs it, not every start

        normalized = unicodedata.normalize("NFC", raw)
        if not normalized:
            raise KeyNotAvailableError("an empty passphrase is not allowed")
        return normalized.encode("utf-8")

    def _derive(
        self,
        name: str | None,
        params: Mapping[str, int] | None,
        salt: bytes,
        length: int,
        confirm: bool,
    ) -> tuple[bytes, str, dict[str, int]]:
        kdf = self._kdf(name, params)  # validates floors and ceilings before any derivation
        kdf_name = str(getattr(kdf, "name", name))
        passphrase = self._passphrase(confirm)
        tag = hashlib.blake2b(passphrase, key=salt, digest_size=32).digest()
        cache_key = (kdf_name, tuple(sorted(kdf.params.items())), salt, tag, length)
        with _derived_lock:
            if cache_key not in _derived:
                _derived[cache_key] = kdf.derive(passphrase, salt, length)
            return _derived[cache_key], kdf_name, dict(kdf.params)

    def create_kek(self, length: int) -> tuple[bytes, dict[str, Any]]:
        salt = os.urandom(SALT_SIZE)
        kek, kdf_name, kdf_params = self._derive(None, None, salt, length, confirm=True)
        return kek, {
            "kdf": kdf_name,
            "kdf_params": kdf_params,
            "salt": base64.b64encode(salt).decode(),
        }

    def load_kek(self, params: Mapping[str, Any], length: int) -> bytes:
        try:
            kdf_name = params["kdf"]
            kdf_params = params["kdf_params"]
            salt = base64.b64decode(params["salt"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise IntegrityError("the keyring's passphrase parameters are corrupt") from None
        if not isinstance(kdf_name, str) or not isinstance(kdf_params, dict):
            raise IntegrityError("the keyring's passphrase parameters are corrupt")
        if len(salt) != SALT_SIZE:
            raise IntegrityError(f"the keyring's salt is {len(salt)} bytes, not {SALT_SIZE}")
        return self._derive(kdf_name, kdf_params, salt, length, confirm=False)[0]
