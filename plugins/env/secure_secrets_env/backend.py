"""The ``env`` storage backend: ciphertext in environment variables, optionally persisted
to a dotenv file.

Secret ``name`` lives in the variable ``prefix + encode(name)`` and its value is the
manager's envelope token, text-encoded; both formats are defined (and documented) in
:mod:`secrets_core.environment`. The backend never sees plaintext when used through the
manager, which envelope-encrypts for backends that do not encrypt at rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import filelock

from secrets_core.descriptors import PluginContext
from secrets_core.environment import (
    DEFAULT_PREFIX,
    check_prefix,
    decode_value,
    encode_value,
    parse_env_text,
    read_env_file,
    rewrite_env_text,
    secret_name_of,
    variable_name,
    write_env_file,
)
from secrets_core.errors import (
    BackendConfigurationError,
    ConfigError,
    LockTimeoutError,
    SecretNotFoundError,
)

LOCK_TIMEOUT_SECONDS = 10.0


class EnvBackend:
    """Reads the process environment first (as injected by an orchestrator), then the env
    file; writes and deletes update both."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, env_file: Path | None = None) -> None:
        self.prefix = prefix
        self.env_file = env_file
        self._lock = (
            filelock.FileLock(f"{env_file}.lock", timeout=LOCK_TIMEOUT_SECONDS, mode=0o600)
            if env_file is not None
            else None
        )
        self._cache: tuple[tuple[int, int, int], dict[str, str | None]] | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], context: PluginContext) -> EnvBackend:
        try:
            configured = options.get("prefix")
            prefix = check_prefix(DEFAULT_PREFIX if configured is None else configured)
        except ConfigError as exc:
            raise BackendConfigurationError(f"[backends.env] prefix: {exc}") from None
        env_file = options.get("env_file")
        path = Path(env_file).expanduser().absolute() if env_file else None
        return cls(prefix, path)

    def __repr__(self) -> str:
        return f"EnvBackend(prefix={self.prefix!r}, env_file={self.env_file!r})"

    # --- StorageBackend -----------------------------------------------------------------------

    def read(self, name: str) -> bytes | str:
        variable = variable_name(name, self.prefix)
        text = os.environ.get(variable)
        if text is None and self.env_file is not None:
            file_values = self._file_values()
            if variable in file_values:
                text = file_values[variable] or ""  # a bare "KEY" line is not our token
        if text is None:
            where = f" nor in {self.env_file}" if self.env_file is not None else ""
            raise SecretNotFoundError(
                f"secret '{name}' not found: environment variable {variable} is not set{where}"
            )
        return decode_value(text, variable)

    def write(self, name: str, value: bytes | str) -> None:
        variable = variable_name(name, self.prefix)
        text = encode_value(value)
        if self.env_file is not None:
            self._update_file({variable: f"{variable}={text}"})
        os.environ[variable] = text

    def delete(self, name: str) -> None:
        variable = variable_name(name, self.prefix)
        present = variable in os.environ
        if self.env_file is not None and variable in self._file_values():
            self._update_file({variable: None})
            present = True
        os.environ.pop(variable, None)
        if not present:
            raise SecretNotFoundError(f"secret '{name}' not found: nothing to delete")

    def list_names(self, prefix: str = "") -> list[str]:
        variables = set(os.environ)
        if self.env_file is not None:
            variables |= set(self._file_values())
        names = {secret_name_of(v, self.prefix) for v in variables if v.startswith(self.prefix)}
        return sorted(n for n in names if n is not None and n.startswith(prefix))

    def close(self) -> None:
        self._cache = None

    # --- the env file -------------------------------------------------------------------------

    def _file_values(self) -> dict[str, str | None]:
        """This backend's variables in the env file (cached until the file changes)."""
        assert self.env_file is not None
        try:
            st = os.stat(self.env_file)
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        bindings = parse_env_text(read_env_file(self.env_file), f"env file {self.env_file}")
        values = {
            b.key: b.value for b in bindings if b.key is not None and b.key.startswith(self.prefix)
        }
        self._cache = (stamp, values)
        return values

    def _update_file(self, updates: Mapping[str, str | None]) -> None:
        assert self.env_file is not None and self._lock is not None
        if not self.env_file.parent.exists():
            write_env_file(self.env_file, "")  # creates the directory 0700
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockTimeoutError(
                f"timed out after {LOCK_TIMEOUT_SECONDS:.0f}s waiting for {self._lock.lock_file}"
            ) from None
        try:
            bindings = parse_env_text(read_env_file(self.env_file), f"env file {self.env_file}")
            write_env_file(self.env_file, rewrite_env_text(bindings, updates))
            del bindings
        finally:
            self._lock.release()
        self._cache = None
