"""Secrets and environment variables.

Four things live here, shared by the ``env`` backend plugin and the CLI:

* **The env backend's text format.** A secret named ``name`` lives in the variable
  ``PREFIX + encode(name)`` (:func:`variable_name`). The encoding keeps letters and digits,
  doubles ``_`` and escapes the other allowed characters as ``_D`` (``.``), ``_H`` (``-``)
  and ``_S`` (``/``). It is a prefix code, so it is reversible (:func:`secret_name_of`) and
  two different names never map to the same variable; case is preserved, so variable names
  are case-sensitive (POSIX; Windows folds case and is not supported). Values are stored as
  ``sse1:b:`` (bytes) or ``sse1:t:`` (text) followed by unpadded base64url
  (:func:`encode_value`): only ``[A-Za-z0-9_:-]``, safe in dotenv files, ``docker
  --env-file`` and Kubernetes Secrets. A value without the marker is not ours and raises an
  :class:`~secrets_core.errors.IntegrityError` naming the variable, never the value.
* **Export** (:func:`export_lines`, :func:`export_mapping`, :func:`kubernetes_secret`):
  ``VARIABLE=ciphertext`` for any backend's secrets, readable by the env backend elsewhere.
* **Child environments** (:func:`child_environment`): decrypted values for a subprocess,
  without touching ``os.environ``.
* **Migration from a plaintext .env** (:func:`import_dotenv`).

Dotenv files are parsed with python-dotenv, never by hand; rewriting one keeps every
unrelated line byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import functools
import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from secrets_core.config import plugin_name
from secrets_core.defaults import KEY_VARIABLES
from secrets_core.errors import (
    ConfigError,
    IntegrityError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretsError,
)
from secrets_core.fsutil import atomic_write, ensure_private_dir, read_private_file, refuse_symlink
from secrets_core.names import validate_name
from secrets_core.plugin._api import Capability
from secrets_core.secret import SecretValue

if TYPE_CHECKING:
    from dotenv.parser import Binding

    from secrets_core.manager import SecretsManager

DEFAULT_PREFIX = "SECURE_SECRET_"
"""The default variable prefix of the env backend (its ``prefix`` option)."""
TOKEN_MARKER = "sse1:"  # noqa: S105 (a format marker, not a password)
"""Every value the env backend writes starts with this marker."""

_ESCAPE = {"_": "__", ".": "_D", "-": "_H", "/": "_S"}
_UNESCAPE = {"_": "_", "D": ".", "H": "-", "S": "/"}
_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENCODED_RE = re.compile(r"[A-Za-z0-9_]+")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_KIND_BYTES, _KIND_TEXT = "b", "t"
_KIND_AT = len(TOKEN_MARKER)
_BODY_AT = _KIND_AT + 2
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Last characters allowed when 2 or 3 characters end the text (4 or 2 unused low bits).
_CANONICAL_LAST = {2: _B64URL[::16], 3: _B64URL[::4]}
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


# --- the env backend's text format ------------------------------------------------------------


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a portable variable name (``[A-Za-z_][A-Za-z0-9_]*``),
    else raise :class:`~secrets_core.errors.ConfigError`."""
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            "the env variable prefix must be non-empty and use only letters, digits and '_' "
            "(not starting with a digit), e.g. SECURE_SECRET_"
        )
    return prefix


def variable_name(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The environment variable that holds secret ``name`` in the env backend.

    >>> variable_name("billing/stripe-key.v2")
    'SECURE_SECRET_billing_Sstripe_Hkey_Dv2'
    >>> variable_name("api_key")
    'SECURE_SECRET_api__key'

    A name that is not a valid secret name (``=``, NUL, empty, ...) raises
    :class:`~secrets_core.errors.InvalidSecretNameError`.
    """
    if not isinstance(name, str) or not isinstance(prefix, str):
        validate_name(name)
        check_prefix(prefix)
    return _variable_name(name, prefix)


@functools.lru_cache(maxsize=4096)
def _variable_name(name: str, prefix: str) -> str:
    """Cached: the env backend maps the same few names on every read. Invalid names raise
    (and exceptions are not cached)."""
    validate_name(name)
    encoded = "".join(_ESCAPE.get(char, char) for char in name)
    if not _ENCODED_RE.fullmatch(encoded):  # unreachable for valid names; defence in depth
        raise InvalidSecretNameError("secret name cannot be mapped to an environment variable")
    return check_prefix(prefix) + encoded


def secret_name_of(variable: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The secret name stored in ``variable``, or None when the variable is not one of the env
    backend's (another prefix, or not a canonical encoding of a valid name)."""
    if not variable.startswith(prefix) or len(variable) == len(prefix):
        return None
    encoded = variable[len(prefix) :]
    chars: list[str] = []
    i = 0
    while i < len(encoded):
        char = encoded[i]
        if char == "_":
            decoded = _UNESCAPE.get(encoded[i + 1 : i + 2])
            if decoded is None:
                return None
            chars.append(decoded)
            i += 2
        elif char.isascii() and char.isalnum():
            chars.append(char)
            i += 1
        else:
            return None
    name = "".join(chars)
    try:
        return validate_name(name)
    except InvalidSecretNameError:
        return None


def encode_value(value: bytes | str) -> str:
    """The text form of a stored value: marker, kind (``b``/``t``), unpadded base64url."""
    if isinstance(value, str):
        kind, raw = _KIND_TEXT, value.encode("utf-8")
    else:
        kind, raw = _KIND_BYTES, bytes(value)
    return f"{TOKEN_MARKER}{kind}:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_value(text: str, variable: str) -> bytes | str:
    """Undo :func:`encode_value`. Anything else raises IntegrityError naming ``variable``
    (never the value, which could be a plaintext secret put there by hand)."""
    kind = text[_KIND_AT : _KIND_AT + 2]
    raw = _b64url_decode(text[_BODY_AT:]) if text.startswith(TOKEN_MARKER) else None
    if raw is not None and kind == "b:":
        return raw
    decoded = _utf8(raw) if raw is not None and kind == "t:" else None
    if decoded is not None:
        return decoded
    # raised outside any except block: a chained decode error would carry the raw bytes
    raise IntegrityError(
        f"environment variable {variable} does not hold a valid secure-secrets token (a "
        "plaintext, foreign or corrupt value); store the secret again or remove the variable"
    )


def _b64url_decode(body: str) -> bytes | None:
    """Strict unpadded base64url: no other characters, no padding, and the unused low bits
    of a last partial character must be zero, so every token has exactly one spelling (a
    changed character never decodes to the same bytes)."""
    partial = len(body) % 4
    if partial == 1 or not _B64URL_RE.fullmatch(body):
        return None
    if partial and body[-1] not in _CANONICAL_LAST[partial]:
        return None
    # Only alphabet characters are left, so the standard decoder needs no validation pass.
    standard = body.encode("ascii").translate(_URLSAFE_TO_STANDARD) + b"=" * (-partial % 4)
    try:
        return binascii.a2b_base64(standard)
    except binascii.Error:
        return None


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def child_variable_name(name: str, prefix: str = "") -> str:
    """The variable a secret gets in a child environment (:func:`child_environment`, the
    CLI's ``run``) and in a plaintext export: the name, minus ``prefix`` (a secret-name
    prefix such as ``"app/"``) and any ``/`` right after it, upper-cased, with every
    character other than ``A-Z``/``0-9`` turned into ``_``; a leading digit gets a ``_`` in
    front. ``db/password`` -> ``DB_PASSWORD``, ``app/api-key.v2`` with prefix ``app/`` ->
    ``API_KEY_V2``, ``DATABASE_URL`` -> ``DATABASE_URL``. Not reversible, so
    :func:`child_environment` refuses two names that map to one variable."""
    validate_name(name)
    stem = (name[len(prefix) :] if prefix and name.startswith(prefix) else name).lstrip("/")
    if not stem:
        raise ConfigError(
            f"secret '{name}' is the prefix itself, so it has no variable name; use a "
            "shorter prefix"
        )
    variable = _NOT_ALNUM.sub("_", stem).upper()
    return "_" + variable if variable[0].isdigit() else variable


# --- dotenv files -------------------------------------------------------------------------------


class EnvFileError(ConfigError):
    """A dotenv file cannot be parsed. The message names the file and the line number, never
    the line's content (it may hold a plaintext secret)."""


def _binding_line(binding: Binding) -> int:
    """The line a binding's statement starts on (python-dotenv's mark includes the blank
    lines before it)."""
    text = binding.original.string
    leading = text[: len(text) - len(text.lstrip())]
    return binding.original.line + len(re.findall(r"\r\n|\n|\r", leading))


def parse_env_text(text: str, where: str) -> list[Binding]:
    """Parse dotenv ``text`` with python-dotenv. Unparseable statements (which python-dotenv
    itself would only warn about and skip) raise :class:`EnvFileError` with the line number.
    Concatenating the bindings' ``original.string`` gives back ``text``."""
    from dotenv.parser import parse_stream

    bindings = list(parse_stream(io.StringIO(text)))
    for binding in bindings:
        if binding.error:
            line = _binding_line(binding)
            del bindings, binding, text  # keep the file's content out of traceback locals
            raise EnvFileError(
                f"{where}, line {line}: not valid dotenv syntax (KEY=value, quotes closed); "
                "fix or remove the line"
            )
    return bindings


def read_env_file(path: Path) -> str:
    """The text of a dotenv file (``""`` when it does not exist); refuses a symlink."""
    refuse_symlink(path)
    try:
        raw = read_private_file(path)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise EnvFileError(f"env file {path} cannot be read: {exc.strerror}") from None
    text = _utf8(raw)
    if text is None:  # raised outside the except: the decode error holds the file's bytes
        line = raw[: _utf8_error_offset(raw)].count(b"\n") + 1
        del raw
        raise EnvFileError(f"env file {path}, line {line}: not UTF-8 text")
    return text.removeprefix("\ufeff")


def _utf8_error_offset(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return len(raw)


def rewrite_env_text(bindings: list[Binding], updates: Mapping[str, str | None]) -> str:
    """The parsed file with the statement of each key in ``updates`` replaced by the given full line
    (``"VAR=token"``, or a comment), or removed when the line is ``None``.

    The first statement of a key is replaced in place (the blank lines and indentation before
    it kept), later duplicates of the key are dropped, keys not present are appended; every
    other line, comment and blank line is kept byte for byte. Lines must be safe unquoted
    dotenv (tokens are)."""
    out: list[str] = []
    done: set[str] = set()
    for binding in bindings:
        original = binding.original.string
        key = binding.key
        if key is None or key not in updates:
            out.append(original)
            continue
        body = original.lstrip()
        leading = original[: len(original) - len(body)]
        eol_match = re.search(r"(\r\n|\n|\r)$", original)
        eol = eol_match.group(1) if eol_match else ""
        new = updates[key]
        if key in done or new is None:
            out.append(leading.rstrip(" \t"))
            continue
        done.add(key)
        out.append(leading + new + eol)
    joined = "".join(out)
    for key, new in updates.items():
        if new is not None and key not in done:
            if joined and not joined.endswith(("\n", "\r")):
                joined += "\n"
            joined += new + "\n"
    return joined


def write_env_file(path: Path, text: str) -> None:
    """Durably replace ``path`` with ``text``, mode 0600 whatever the umask."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    atomic_write(path, text.encode("utf-8"))


# --- export ---------------------------------------------------------------------------------


def env_backend_prefix(manager: SecretsManager) -> str:
    """The env backend's configured prefix (``[backends.env] prefix``), or the default."""
    configured = manager.settings.backends.get("env", {}).get("prefix")
    return check_prefix(configured) if isinstance(configured, str) else DEFAULT_PREFIX


def _names(
    manager: SecretsManager, names: Iterable[str] | None, backend_type: str | enum.Enum | None
) -> list[str]:
    if names is None:
        return manager.list_secrets("", backend_type)
    if isinstance(names, str):
        raise TypeError("names must be a list of secret names, not one str")
    return list(names)


def _seal_for_env(manager: SecretsManager, name: str, secret: SecretValue) -> str:
    """A fresh env-backend token for ``secret`` under the primary data key, bound to ``name``:
    the envelope the env backend (which does not encrypt at rest) stores, whatever backend the
    value came from."""
    return encode_value(manager.seal(name, secret.reveal()))


def _as_text(name: str, secret: SecretValue) -> str:
    raw = secret.reveal()
    if isinstance(raw, bytes):
        decoded = _utf8(raw)
        del raw
        if decoded is None:
            raise InvalidSecretValueError(
                f"secret '{name}' holds bytes that are not UTF-8 text; it cannot be put in an "
                "environment variable"
            )
        raw = decoded
    if "\0" in raw:
        del raw
        raise InvalidSecretValueError(
            f"secret '{name}' contains a NUL character; environment variables cannot hold it"
        )
    return raw


def export_mapping(
    manager: SecretsManager,
    names: Iterable[str] | None,
    backend_type: str | enum.Enum | None = None,
    ciphertext: bool = True,
    *,
    prefix: str | None = None,
) -> dict[str, str]:
    """``{VARIABLE: value}`` for the secrets ``names`` (None: every secret) of a backend.

    With ``ciphertext=True`` (the default) the variables are the env backend's
    (:func:`variable_name` with ``prefix``, default the env backend's configured prefix) and
    the values are fresh env-backend tokens: a process configured with the env backend, the
    same keyring and its key reads them. With ``ciphertext=False`` the variables are
    :func:`child_variable_name` and the values are plaintext, for tools that cannot decrypt
    (avoid it: the values are then readable wherever the file goes).
    """
    chosen = _names(manager, names, backend_type)
    env_prefix = check_prefix(prefix) if prefix is not None else env_backend_prefix(manager)
    result: dict[str, str] = {}
    error: SecretsError | None = None
    try:
        for name in chosen:
            variable = variable_name(name, env_prefix) if ciphertext else child_variable_name(name)
            if variable in result:
                raise ConfigError(f"two secrets map to the variable {variable}; export apart")
            secret = SecretValue(manager.retrieve_secret(name, backend_type))
            result[variable] = (
                _seal_for_env(manager, name, secret)
                if ciphertext
                else _single_line(name, _as_text(name, secret))
            )
            del secret
    except SecretsError as exc:
        error = exc
    if error is None:
        return result
    result.clear()  # plaintext values exported so far stay out of traceback locals
    raise error


def _single_line(name: str, text: str) -> str:
    if "\n" in text or "\r" in text:
        del text
        raise InvalidSecretValueError(
            f"secret '{name}' spans several lines, which an --env-file cannot hold; "
            "export it as ciphertext"
        )
    return text


def export_lines(
    manager: SecretsManager,
    names: Iterable[str] | None,
    backend_type: str | enum.Enum | None = None,
    ciphertext: bool = True,
    *,
    prefix: str | None = None,
) -> list[str]:
    """``VARIABLE=token`` lines (no newline) for ``docker run --env-file`` or a Kubernetes
    Secret, in the order of ``names``. See :func:`export_mapping` for the options."""
    mapping = export_mapping(manager, names, backend_type, ciphertext, prefix=prefix)
    return [f"{variable}={value}" for variable, value in mapping.items()]


def kubernetes_secret(
    exported: Mapping[str, str] | Iterable[str],
    secret_name: str,
    *,
    namespace: str | None = None,
) -> str:
    """A Kubernetes ``Secret`` manifest (YAML) whose ``data`` holds exactly the exported
    tokens (``export_mapping`` output, or ``export_lines`` lines), base64-encoded as
    Kubernetes requires. Give it to a container with ``envFrom: [{secretRef: {name: ...}}]``.
    """
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", secret_name):
        raise ConfigError("a Kubernetes object name must be lowercase letters, digits, '-', '.'")
    if isinstance(exported, Mapping):
        pairs = [(str(k), str(v)) for k, v in exported.items()]
    else:
        pairs = [tuple(line.split("=", 1)) for line in exported]  # type: ignore[misc]
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {secret_name}"]
    if namespace is not None:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace):
            raise ConfigError("a Kubernetes namespace must be lowercase letters, digits, '-'")
        lines.append(f"  namespace: {namespace}")
    lines += ["type: Opaque", "data:"]
    for variable, token in pairs:
        if not _PREFIX_RE.fullmatch(variable) or not token.startswith(TOKEN_MARKER):
            raise ConfigError(
                f"'{variable}' is not an exported secure-secrets variable; pass what "
                "export_mapping or export_lines returned"
            )
        lines.append(f"  {variable}: {base64.b64encode(token.encode('ascii')).decode('ascii')}")
    return "\n".join(lines) + "\n"


# --- child processes --------------------------------------------------------------------------


def _key_variables(manager: SecretsManager) -> set[str]:
    """Variables that hold key material for this manager (never passed on to children)."""
    variables = set(KEY_VARIABLES)
    configured = manager.settings.key_source_options.get("variable")
    if isinstance(configured, str):
        variables.add(configured)
    return variables


def child_environment(
    manager: SecretsManager,
    names: Iterable[str] | Mapping[str, str] | None = None,
    prefix: str | None = None,
    backend_type: str | enum.Enum | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An environment for a subprocess with the decrypted values of chosen secrets.

    ``names`` is a list of secret names, each put in the variable
    :func:`child_variable_name` ``(name, prefix)`` (``db/password`` -> ``DB_PASSWORD``), or
    a mapping ``{secret name: variable}`` to choose the variables. ``names=None`` takes
    every secret of the backend whose name starts with ``prefix`` (a secret-name prefix
    such as ``"app/"``, which is left out of the variable names: ``app/db/password`` ->
    ``DB_PASSWORD``). ``base`` is the starting environment; by default a copy of
    ``os.environ`` without the variables holding this manager's key (``SECURE_SECRETS_KEK``,
    ``SECURE_SECRETS_PASSPHRASE`` or the key source's configured ``variable``): a child gets
    the values it needs, not the key to all the others. ``os.environ`` is never modified.

    Values must be text (bytes must be UTF-8) without NUL. Two names mapping to one variable
    raise :class:`~secrets_core.errors.ConfigError` naming both.
    """
    if base is None:
        drop = _key_variables(manager)
        env = {k: v for k, v in os.environ.items() if k not in drop}
    else:
        env = dict(base)
    if isinstance(names, Mapping):
        pairs = [(str(name), str(variable)) for name, variable in names.items()]
        for _name, variable in pairs:
            if not variable or "=" in variable or "\0" in variable:
                raise ConfigError(f"'{variable}' cannot be an environment variable name")
    else:
        chosen = (
            manager.list_secrets(prefix or "", backend_type)
            if names is None
            else _names(manager, names, backend_type)
        )
        pairs = [(name, child_variable_name(name, prefix or "")) for name in chosen]
    owners: dict[str, str] = {}
    for name, variable in pairs:
        if variable in owners:
            raise ConfigError(
                f"secrets '{owners[variable]}' and '{name}' both map to the variable "
                f"{variable}; pass names as a mapping {{secret: variable}} to choose"
            )
        owners[variable] = name
    error: SecretsError | None = None
    try:
        for name, variable in pairs:
            secret = SecretValue(manager.retrieve_secret(name, backend_type))
            env[variable] = _as_text(name, secret)
            del secret
    except SecretsError as exc:
        error = exc
    if error is None:
        return env
    env.clear()  # decrypted values gathered so far stay out of traceback locals
    raise error


# --- migration from a plaintext .env ------------------------------------------------------------

EntryStatus = Literal["would import", "imported", "not imported", "skipped", "already imported"]


@dataclass(frozen=True)
class ImportEntry:
    """One key of the .env and what happens to it. Never holds the value."""

    key: str
    line: int
    name: str | None
    backend: str
    exists: bool | None  # None: the backend cannot list, so it is unknown
    status: EntryStatus
    reason: str = ""


@dataclass
class ImportReport:
    """What :func:`import_dotenv` did (or, in a dry run, would do). Holds names, never
    values; ``str(report)`` is a table safe to print or log."""

    path: Path
    backend: str
    dry_run: bool
    entries: list[ImportEntry] = field(default_factory=list)
    rewritten: bool = False
    backup: Path | None = None

    @property
    def imported(self) -> list[str]:
        return [e.name for e in self.entries if e.status == "imported" and e.name]

    @property
    def skipped(self) -> list[str]:
        return [e.key for e in self.entries if e.status == "skipped"]

    def __str__(self) -> str:
        head = f"{'dry run: ' if self.dry_run else ''}import {self.path} into '{self.backend}'"
        rows = [head, f"{'line':>5}  {'key':<32} {'secret':<32} {'exists':<7} status"]
        for e in self.entries:
            exists = "?" if e.exists is None else ("yes" if e.exists else "no")
            status = e.status + (f" ({e.reason})" if e.reason else "")
            rows.append(f"{e.line:>5}  {e.key:<32} {e.name or '-':<32} {exists:<7} {status}")
        if self.rewritten:
            rows.append(f"rewrote {self.path}; original backed up (0600) at {self.backup}")
        return "\n".join(rows)


class DotenvImportError(SecretsError):
    """An import stopped partway. ``report`` says which entries were imported; the .env file
    was not modified."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _existing(manager: SecretsManager, backend: str) -> set[str] | None:
    if Capability.LIST not in manager.registry.lookup("backend", backend).capabilities:
        return None
    return set(manager.list_secrets("", backend))


def _backup_path(path: Path) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}.{counter}.bak")
        counter += 1
    return candidate


def import_dotenv(
    manager: SecretsManager,
    path: str | os.PathLike[str],
    backend_type: str | enum.Enum | None = None,
    dry_run: bool = True,
    rewrite: bool = False,
    *,
    overwrite: bool = False,
    interpolate: bool = True,
) -> ImportReport:
    """Move the entries of a plaintext .env into a backend (the default one unless
    ``backend_type``). **A dry run is the default**: it changes nothing and reports each
    key's secret name, target backend and whether the secret already exists, never a value.

    * Keys that are valid secret names are imported under that exact name (case kept). Other
      keys are skipped and reported, as are keys already in the env backend's format
      (prefix), keys without ``=`` and, unless ``overwrite=True``, secrets that exist.
    * Values are what python-dotenv's ``dotenv_values`` returns (``${VAR}`` expanded unless
      ``interpolate=False``), so the application sees exactly what ``load_dotenv`` gave it.
    * ``rewrite=True``: once every entry is imported, the original is copied to
      ``<file>.<UTC time>.bak`` (0600; it holds the plaintext: delete it after checking) and
      the file is atomically replaced (0600): an entry moved to the env backend becomes its
      ciphertext variable (``SECURE_SECRET_...=sse1:...``), any other becomes a comment
      naming where the secret went; skipped and unrelated lines stay as they were.
    * A failure partway raises :class:`DotenvImportError`: the file is untouched and its
      ``report`` says which entries were imported.
    """
    from dotenv import dotenv_values

    source = Path(path).expanduser()
    backend = plugin_name(backend_type) if backend_type else manager.default_backend
    if not source.is_file():
        raise ConfigError(f"no .env file at {source}")
    text = read_env_file(source)
    parse_error: EnvFileError | None = None
    try:
        bindings = parse_env_text(text, f".env file {source}")
    except EnvFileError as exc:
        parse_error = exc
    if parse_error is not None:
        del text  # raised outside the except, without the plaintext in this frame's locals
        raise parse_error
    if backend == "env":
        env_file = manager.settings.backends.get("env", {}).get("env_file")
        if isinstance(env_file, str) and Path(env_file).expanduser().resolve() == (
            source.resolve()
        ):
            raise ConfigError(
                f"the env backend's env_file is {source}, the file being imported; import "
                "with rewrite=True and no env_file (the rewritten file then holds the "
                "ciphertext), or configure another env_file"
            )
    env_prefix = env_backend_prefix(manager)
    existing = _existing(manager, backend)
    report = ImportReport(path=source, backend=backend, dry_run=dry_run)

    last_line: dict[str, int] = {}
    no_value: set[str] = set()
    for binding in bindings:
        if binding.key is not None:
            last_line[binding.key] = _binding_line(binding)
            if binding.value is None:
                no_value.add(binding.key)
            else:
                no_value.discard(binding.key)
    del bindings

    plan: list[tuple[str, int, str]] = []  # (key, line, secret name) to import
    present: list[tuple[str, str]] = []  # (key, secret name) skipped because they exist
    for key, line in last_line.items():
        reason = ""
        name: str | None = None
        try:
            name = validate_name(key)
        except InvalidSecretNameError:
            reason = "not a valid secret name"
        if name is not None and key in no_value:
            reason = "no value (no '=')"
        elif name is not None and key.startswith(env_prefix):
            reason = "already an env-backend variable"
        exists = None if existing is None or name is None else name in existing
        if not reason and exists and not overwrite:
            reason = "exists; pass overwrite=True to replace"
        if reason:
            report.entries.append(ImportEntry(key, line, name, backend, exists, "skipped", reason))
            if exists and name is not None and key not in no_value:
                present.append((key, name))
            continue
        assert name is not None
        report.entries.append(ImportEntry(key, line, name, backend, exists, "would import"))
        plan.append((key, line, name))
    if dry_run:
        return report

    values = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
    del text
    updates: dict[str, str | None] = {}
    failure: str | None = None
    for key, _line, name in plan:
        secret = SecretValue(values.get(key) or "")
        values[key] = None
        try:
            manager.store_secret(name, secret.reveal(), backend)
            if rewrite:
                updates[key] = _replacement(manager, key, name, backend, env_prefix, secret)
        except SecretsError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        del secret
        _set_status(report, key, "imported" if failure is None else "not imported")
        if failure is not None:
            break
    if rewrite and failure is None:
        _already_imported(manager, report, present, values, updates, env_prefix)
    values.clear()
    if failure is not None:
        for key, _line, _name in plan:
            if _status(report, key) == "would import":
                _set_status(report, key, "not imported")
        imported = ", ".join(report.imported) or "none"
        raise DotenvImportError(
            f"import of {source} stopped ({failure}); {source} was not modified; "
            f"imported so far: {imported}",
            report,
        )
    if rewrite and updates:
        _rewrite_with_backup(source, updates, report)
    return report


def _replacement(
    manager: SecretsManager, key: str, name: str, backend: str, env_prefix: str, secret: SecretValue
) -> str:
    """The line that replaces an imported entry in a rewritten .env."""
    if backend == "env":
        return f"{variable_name(name, env_prefix)}={_seal_for_env(manager, name, secret)}"
    return f"# {key}: moved to secure-secrets (secret '{name}', backend '{backend}')"


def _already_imported(
    manager: SecretsManager,
    report: ImportReport,
    present: list[tuple[str, str]],
    values: dict[str, str | None],
    updates: dict[str, str | None],
    env_prefix: str,
) -> None:
    """Existing secrets whose stored value equals the .env value (an earlier, interrupted
    import) are "already imported": a rewrite removes their plaintext too. Different values
    stay skipped, and their lines stay in the file (nothing is lost)."""
    for key, name in present:
        stored = SecretValue(manager.retrieve_secret(name, report.backend))
        if stored == SecretValue(values.get(key) or ""):
            updates[key] = _replacement(manager, key, name, report.backend, env_prefix, stored)
            _set_status(report, key, "already imported")
        del stored


def _status(report: ImportReport, key: str) -> EntryStatus:
    return next(e.status for e in report.entries if e.key == key)


def _set_status(report: ImportReport, key: str, status: EntryStatus) -> None:
    report.entries = [
        ImportEntry(
            e.key,
            e.line,
            e.name,
            e.backend,
            e.exists,
            status,
            "" if status == "already imported" else e.reason,
        )
        if e.key == key
        else e
        for e in report.entries
    ]


def _rewrite_with_backup(
    source: Path, updates: Mapping[str, str | None], report: ImportReport
) -> None:
    """Back up ``source`` (0600), then replace it with the plaintext lines swapped out.

    Replacement lines are full lines (``VAR=token`` or a comment), so each imported key's
    statement is replaced by its line and later duplicates of the key are dropped."""
    original = read_private_file(source)
    new_text = rewrite_env_text(
        parse_env_text(original.decode("utf-8").removeprefix("\ufeff"), f".env file {source}"),
        updates,
    )
    backup = _backup_path(source)
    problem: str | None = None
    try:
        atomic_write(backup, original)
        atomic_write(source, new_text.encode("utf-8"))
    except (OSError, SecretsError) as exc:
        problem = f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"
    del original, new_text
    if problem is not None:  # raised outside the except: no plaintext in chained frames
        raise DotenvImportError(
            f"the secrets were imported, but {source} could not be rewritten ({problem}); "
            "it is unchanged (a backup may exist); run the import again with rewrite=True",
            report,
        )
    report.rewritten, report.backup = True, backup
