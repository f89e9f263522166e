"""The ``env`` storage backend: ciphertext in environment variables, optionally persisted
to a dotenv file.

Secret ``name`` lives in the variable ``prefix + encode(name)`` and its value is the
manager's envelope token, text-encoded; both formats are defined (and documented) in
:mod:`secure_secrets_env.format`. The backend never sees plaintext when used through the
manager, which envelope-encrypts for backends that do not encrypt at rest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from secrets_core.envfile import parse_env_text, read_env_file, rewrite_env_text, write_env_file
from secrets_core.errors import (
    BackendConfigurationError,
    ConfigError,
    LockTimeoutError,
    SecretNotFoundError,
)
from secrets_core.fsutil import TEMP_SUFFIX
from secrets_core.plugin import PluginContext
from secure_secrets_env.format import (
    DEFAULT_PREFIX,
    check_prefix,
    decode_value,
    encode_value,
    secret_name_of,
    variable_name,
)

LOCK_TIMEOUT_SECONDS = 10.0


class EnvBackend:
    """Reads the process environment first (as injected by an orchestrator), then the env
    file; writes and deletes update both."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, env_file: Path | None = None) -> None:
        self.prefix = prefix
        self.env_file = env_file
        self._lock: Any = None  # a filelock.FileLock on "<env file>.lock", made on first write
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
        try:
            text: str | None = os.environ[variable]  # not .get(): one call fewer on a hot path
        except KeyError:
            text = None
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

    def rewrite(self, name: str, transform: Callable[[bytes | str], bytes | str]) -> bool:
        """Replace the value with ``transform(value)`` under the env file's lock, reading the
        file's value (the one other processes share) rather than this process's copy, so a
        value another process stored meanwhile is not overwritten; used by key rotation.
        Returns whether the value changed."""
        variable = variable_name(name, self.prefix)
        if self.env_file is None:
            return self._rewrite_in_process(name, variable, transform)
        with self._locked():
            bindings = parse_env_text(read_env_file(self.env_file), f"env file {self.env_file}")
            current = next((b.value for b in bindings if b.key == variable), None)
            if current is None:  # not in the file: only in this process's environment
                return self._rewrite_in_process(name, variable, transform)
            old = decode_value(current, variable)
            new = transform(old)
            if new == old:
                return False
            text = encode_value(new)
            write_env_file(
                self.env_file, rewrite_env_text(bindings, {variable: f"{variable}={text}"})
            )
            del bindings
        self._cache = None
        os.environ[variable] = text
        return True

    def _rewrite_in_process(
        self, name: str, variable: str, transform: Callable[[bytes | str], bytes | str]
    ) -> bool:
        current = os.environ.get(variable)
        if current is None:
            raise SecretNotFoundError(f"secret '{name}' not found: {variable} is not set")
        old = decode_value(current, variable)
        new = transform(old)
        if new == old:
            return False
        os.environ[variable] = encode_value(new)
        return True

    def list_names(self, prefix: str = "") -> list[str]:
        variables = set(os.environ)
        if self.env_file is not None:
            variables |= set(self._file_values())
        names = {secret_name_of(v, self.prefix) for v in variables if v.startswith(self.prefix)}
        return sorted(n for n in names if n is not None and n.startswith(prefix))

    def close(self) -> None:
        self._cache = None

    # --- DotenvBackend (.env migration) -------------------------------------------------------

    def owns_variable(self, variable: str) -> bool:
        return variable.startswith(self.prefix)

    def dotenv_line(self, name: str) -> str:
        return f"{variable_name(name, self.prefix)}={encode_value(self.read(name))}"

    def dotenv_file(self) -> Path | None:
        return self.env_file

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
        assert self.env_file is not None
        with self._locked():
            bindings = parse_env_text(read_env_file(self.env_file), f"env file {self.env_file}")
            write_env_file(self.env_file, rewrite_env_text(bindings, updates))
            del bindings
        self._cache = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the env file's lock; first remove temp files of writers killed before their
        rename (every writer holds this lock, so none belongs to a live one)."""
        import filelock  # here: reading secrets never locks

        assert self.env_file is not None
        if not self.env_file.parent.exists():
            write_env_file(self.env_file, "")  # creates the directory 0700
        if self._lock is None:
            self._lock = filelock.FileLock(
                f"{self.env_file}.lock", timeout=LOCK_TIMEOUT_SECONDS, mode=0o600
            )
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockTimeoutError(
                f"timed out after {LOCK_TIMEOUT_SECONDS:.0f}s waiting for {self._lock.lock_file}"
            ) from None
        try:
            for leftover in self.env_file.parent.glob(f".{self.env_file.name}.*{TEMP_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            yield
        finally:
            self._lock.release()
