"""Migration from a plaintext ``.env`` into any backend (:func:`import_dotenv`).

Dotenv files are parsed with python-dotenv (a core dependency), never by hand; rewriting one
keeps every unrelated line byte for byte. A backend that keeps secrets as dotenv variables
(:class:`~secrets_core.plugin.DotenvBackend`, the env plugin's) takes part: keys it already
owns are skipped, and a rewrite puts its line (``VAR=ciphertext``) where the plaintext was.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from secrets_core.config import plugin_name
from secrets_core.envfile import (
    EnvFileError,
    binding_line,
    parse_env_text,
    read_env_file,
    rewrite_env_text,
)
from secrets_core.errors import ConfigError, InvalidSecretNameError, SecretsError
from secrets_core.fsutil import atomic_write, read_private_file
from secrets_core.names import validate_name
from secrets_core.plugin._api import DOTENV_BACKEND_METHODS, Capability, DotenvBackend
from secrets_core.references import SecretReference
from secrets_core.secret import SecretValue

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager


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
    if Capability.LIST not in manager.registry.backend(backend).capabilities:
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
    rewrite: bool | Literal["references"] = False,
    *,
    overwrite: bool = False,
    interpolate: bool = True,
) -> ImportReport:
    """Move the entries of a plaintext .env into a backend (the default one unless
    ``backend_type``). **A dry run is the default**: it changes nothing and reports each
    key's secret name, target backend and whether the secret already exists, never a value.

    * Keys that are valid secret names are imported under that exact name (case kept). Other
      keys are skipped and reported, as are keys the target backend already owns (a
      :class:`~secrets_core.plugin.DotenvBackend` such as the env backend: its prefix),
      keys without ``=`` and, unless ``overwrite=True``, secrets that exist.
    * Values are what python-dotenv's ``dotenv_values`` returns (``${VAR}`` expanded unless
      ``interpolate=False``), so the application sees exactly what ``load_dotenv`` gave it.
    * ``rewrite=True``: once every entry is imported, the original is copied to
      ``<file>.<UTC time>.bak`` (0600; it holds the plaintext: delete it after checking) and
      the file is atomically replaced (0600): an entry moved to a dotenv backend becomes
      its line (the env backend's ``SECURE_SECRET_...=sse1:...``), any other becomes a
      comment naming where the secret went; skipped and unrelated lines stay as they were.
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
    target = dotenv_backend(manager, backend)
    if rewrite == "references" and target is not None:
        raise ConfigError(
            f"the {backend} backend keeps its secrets in the dotenv file itself: rewrite it with "
            "its own lines (rewrite=True, CLI --rewrite) or import into another backend"
        )
    own_file = target.dotenv_file() if target is not None else None
    if own_file is not None and own_file.expanduser().resolve() == source.resolve():
        raise ConfigError(
            f"backend '{backend}' keeps its secrets in {source} ([backends.{backend}]), the "
            "file being imported; "
            "import with rewrite=True and without that file configured (the rewritten file "
            "then holds the ciphertext), or configure another file"
        )
    existing = _existing(manager, backend)
    report = ImportReport(path=source, backend=backend, dry_run=dry_run)

    last_line: dict[str, int] = {}
    no_value: set[str] = set()
    for binding in bindings:
        if binding.key is not None:
            last_line[binding.key] = binding_line(binding)
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
        elif name is not None and target is not None and target.owns_variable(key):
            reason = f"already a variable of backend '{backend}'"
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
                updates[key] = _replacement(target, key, name, backend, rewrite)
        except SecretsError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        del secret
        _set_status(report, key, "imported" if failure is None else "not imported")
        if failure is not None:
            break
    if rewrite and failure is None:
        _already_imported(manager, report, present, values, updates, target, rewrite)
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


def dotenv_backend(manager: SecretsManager, backend: str) -> DotenvBackend | None:
    """The target backend if it keeps its secrets as dotenv variables (looked up by
    attribute: the instance is behind the assembly's guard)."""
    _spec, instance = manager.assembly.backend(backend)
    if all(callable(getattr(instance, m, None)) for m in DOTENV_BACKEND_METHODS):
        return cast(DotenvBackend, instance)
    return None


def _replacement(
    target: DotenvBackend | None,
    key: str,
    name: str,
    backend: str,
    rewrite: bool | Literal["references"],
) -> str:
    """The line that replaces an imported entry in a rewritten .env: its secret reference
    (``rewrite="references"``: the application keeps reading ``KEY``, and ``run --env-file``
    supplies it), the backend's own line for a dotenv backend, else a comment naming where
    the secret went."""
    if rewrite == "references":
        return f"{key}={SecretReference(name, backend)}"
    if target is not None:
        return target.dotenv_line(name)
    return f"# {key}: moved to secure-secrets (secret '{name}', backend '{backend}')"


def _already_imported(
    manager: SecretsManager,
    report: ImportReport,
    present: list[tuple[str, str]],
    values: dict[str, str | None],
    updates: dict[str, str | None],
    target: DotenvBackend | None,
    rewrite: bool | Literal["references"],
) -> None:
    """Existing secrets whose stored value equals the .env value (an earlier, interrupted
    import) are "already imported": a rewrite removes their plaintext too. Different values
    stay skipped, and their lines stay in the file (nothing is lost)."""
    for key, name in present:
        stored = SecretValue(manager.retrieve_secret(name, report.backend))
        if stored == SecretValue(values.get(key) or ""):
            updates[key] = _replacement(target, key, name, report.backend, rewrite)
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
