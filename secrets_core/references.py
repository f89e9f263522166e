"""Secret references: values such as ``ss://vault/app/db_password?version=3`` that stand for
a secret, parsed strictly and resolved through a manager.

Syntax (documented in docs/references.md)::

    ss://BACKEND/NAME[?version=N][&profile=PROFILE]   a secret of a named backend
    ss:NAME[?version=N][&profile=PROFILE]             a secret of the default backend
    \\ss:...                                           plain data: one leading backslash dropped

Every value that starts with ``ss:`` (the scheme in any case) is a reference and must parse;
a malformed one raises :class:`~secrets_core.errors.InvalidReferenceError` naming the
variable, never the value. Every other value is plain data. Resolving goes through the
manager's ordinary ``retrieve_secret``, so each secret is checked, decrypted and audited as
usual; :class:`ReferenceResolver` keeps one manager per profile, so a whole mapping costs one
unlock and one connection per backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from secrets_core.errors import (
    AccessDeniedError,
    ConfigError,
    InvalidReferenceError,
    InvalidSecretNameError,
    SecretsError,
    UnresolvedReferencesError,
)
from secrets_core.names import validate_name

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager

SCHEME = "ss:"
ESCAPE = "\\"
_LOOKS_LIKE = re.compile(r"\\*ss:", re.I)
_BACKEND = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PROFILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_SYNTAX = "ss://BACKEND/NAME or ss:NAME, optionally ?version=N&profile=NAME"


class SecretReference(NamedTuple):
    """A parsed reference. ``backend`` is ``None`` for the default backend, ``profile`` for
    the active profile."""

    name: str
    backend: str | None = None
    version: int | None = None
    profile: str | None = None

    def __str__(self) -> str:
        head = f"ss://{self.backend}/{self.name}" if self.backend else f"ss:{self.name}"
        query = [f"version={self.version}"] if self.version is not None else []
        query += [f"profile={self.profile}"] if self.profile is not None else []
        return head + ("?" + "&".join(query) if query else "")


def is_reference(value: object) -> bool:
    """True when ``value`` is text starting with the ``ss:`` scheme (any case): a reference
    that must parse. Escaped values (``\\ss:...``) are not references."""
    return isinstance(value, str) and value[:3].lower() == SCHEME


def unescape(value: str) -> str:
    """Plain data: ``\\ss:...`` loses its first backslash (``\\\\ss:`` gives ``\\ss:``);
    every other value is returned unchanged."""
    if value.startswith(ESCAPE) and _LOOKS_LIKE.match(value):
        return value[1:]
    return value


def escape_reference(value: str) -> str:
    """The form of plain data ``value`` that :func:`unescape` turns back into ``value``: a
    backslash before anything that would read as a reference (or as an escaped one)."""
    return ESCAPE + value if _LOOKS_LIKE.match(value) else value


def parse_reference(value: str, variable: str | None = None) -> SecretReference:
    """Parse a reference. ``variable`` (the environment variable, field or key holding it)
    is named in the error; the value never is."""
    where = f"${variable}" if variable else "the value"

    def fail(problem: str) -> InvalidReferenceError:
        return InvalidReferenceError(
            f"{where} is a malformed secret reference ({problem}); write {_SYNTAX}, "
            f"or start plain data with a backslash: \\ss:..."
        )

    if not is_reference(value):
        raise fail("it does not start with ss:")
    body, _, query = value[3:].partition("?")
    if "#" in body or "#" in query:
        raise fail("'#' is not allowed")
    backend: str | None = None
    if body.startswith("//"):
        backend, slash, body = body[2:].partition("/")
        if not slash or not _BACKEND.fullmatch(backend):
            raise fail("the backend must be a plugin name followed by '/'")
    try:
        name = validate_name(body)
    except InvalidSecretNameError:
        raise fail("not a valid secret name") from None
    version: int | None = None
    profile: str | None = None
    seen: set[str] = set()
    for param in query.split("&") if query or value.endswith("?") else ():
        key, equals, text = param.partition("=")
        if not equals or key in seen:
            raise fail("parameters are KEY=VALUE, each at most once")
        seen.add(key)
        if key == "version":
            if not _VERSION.fullmatch(text):
                raise fail("the version must be a whole number from 1")
            version = int(text)
        elif key == "profile":
            if not _PROFILE.fullmatch(text):
                raise fail("the profile must be a profile name")
            profile = text
        else:
            raise fail("an unknown parameter (known: version, profile)")
    return SecretReference(name, backend, version, profile)


def find_references(mapping: Mapping[str, str]) -> dict[str, SecretReference]:
    """The references among ``mapping``'s values, by key. All malformed ones are reported
    together in one :class:`~secrets_core.errors.UnresolvedReferencesError`."""
    found: dict[str, SecretReference] = {}
    failures: dict[str, SecretsError] = {}
    for key, value in mapping.items():
        if is_reference(value):
            try:
                found[key] = parse_reference(value, key)
            except InvalidReferenceError as exc:
                failures[key] = exc
    if failures:
        raise UnresolvedReferencesError(failures)
    return found


class ReferenceResolver:
    """Resolves references through ``manager`` (by default one built from the config, the
    ``SECURE_SECRETS_*`` variables and ``profile``), keeping one manager per profile.

    A reference naming a profile other than the active one is refused with
    :class:`~secrets_core.errors.AccessDeniedError` unless that profile is in
    ``allow_profiles``; managers for allowed profiles read the same config file. With a
    ``policy``, secrets are read through that ``[policies.NAME]`` access policy. Use it as a
    context manager (or call :meth:`close`) to close the managers it built.
    """

    def __init__(
        self,
        manager: SecretsManager | None = None,
        *,
        profile: str | None = None,
        allow_profiles: Iterable[str] = (),
        policy: str | None = None,
    ) -> None:
        if manager is None:
            from secrets_core.manager import SecretsManager

            manager = SecretsManager(profile=profile)
            self._owned = [manager]
        else:
            if profile is not None and profile != manager.settings.profile:
                raise ConfigError("give either a manager or a profile, not both")
            self._owned = []
        self.manager = manager
        self.allow_profiles = frozenset(allow_profiles)
        self.policy = policy
        self._managers: dict[str | None, SecretsManager] = {manager.settings.profile: manager}

    def __enter__(self) -> ReferenceResolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the managers this resolver built (not one it was given)."""
        for manager in self._owned:
            manager.close()

    def _manager_for(self, reference: SecretReference, where: str) -> SecretsManager:
        profile = reference.profile
        active = self.manager.settings.profile
        if profile is None or profile == active:
            return self.manager
        if profile not in self.allow_profiles:
            raise AccessDeniedError(
                f"{where} refers to profile '{profile}' but the active profile is "
                f"'{active or 'none'}'; allow it explicitly (allow_profiles, or run "
                f"--allow-profile {profile})"
            )
        if profile not in self._managers:
            from secrets_core.manager import SecretsManager

            other = SecretsManager(config_path=self.manager.settings.config_file, profile=profile)
            self._managers[profile] = other
            self._owned.append(other)
        return self._managers[profile]

    def retrieve(self, reference: SecretReference, variable: str | None = None) -> str | bytes:
        """The value ``reference`` names (audited as a ``retrieve`` like any other read)."""
        where = f"${variable}" if variable else "the reference"
        manager = self._manager_for(reference, where)
        reader = manager.scoped(policy=self.policy) if self.policy else manager
        return reader.retrieve_secret(reference.name, reference.backend, version=reference.version)

    def resolve(self, value: str, variable: str | None = None) -> str | bytes:
        """``value`` resolved if it is a reference, unescaped if it is plain data."""
        if not is_reference(value):
            return unescape(value)
        return self.retrieve(parse_reference(value, variable), variable)

    def resolve_mapping(self, mapping: Mapping[str, str]) -> dict[str, str | bytes]:
        """A copy of ``mapping`` (``os.environ``, a dotenv dict) with every reference replaced
        by its value and escaped plain data unescaped. Nothing is resolved unless every
        reference parses; then every failing key is reported together in one
        :class:`~secrets_core.errors.UnresolvedReferencesError` (keys and reasons, never
        values)."""
        references = find_references(mapping)
        resolved: dict[str, str | bytes] = {}
        failures: dict[str, SecretsError] = {}
        for key, value in mapping.items():
            reference = references.get(key)
            if reference is None:
                resolved[key] = unescape(value)
                continue
            try:
                resolved[key] = self.retrieve(reference, key)
            except SecretsError as exc:
                failures[key] = exc
        if failures:
            resolved.clear()  # values gathered so far stay out of traceback locals
            raise UnresolvedReferencesError(failures)
        return resolved


def resolve_reference(value: str, manager: SecretsManager | None = None) -> str | bytes:
    """Resolve one reference (plain data is returned unescaped) with ``manager`` (default: a
    manager built from the config)."""
    with ReferenceResolver(manager) as resolver:
        return resolver.resolve(value)


def resolve_references(
    mapping: Mapping[str, str],
    manager: SecretsManager | None = None,
    *,
    allow_profiles: Iterable[str] = (),
) -> dict[str, str | bytes]:
    """:meth:`ReferenceResolver.resolve_mapping` in one call: one unlock and one connection
    per backend for the whole mapping."""
    with ReferenceResolver(manager, allow_profiles=allow_profiles) as resolver:
        return resolver.resolve_mapping(mapping)
