"""Secrets for a child process: the variable a secret gets (:func:`child_variable_name`) and
an environment with decrypted values (:func:`child_environment`), without touching
``os.environ``."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from secrets_core.defaults import KEY_VARIABLES
from secrets_core.envfile import utf8
from secrets_core.errors import (
    AccessDeniedError,
    ConfigError,
    InvalidSecretValueError,
    SecretsError,
)
from secrets_core.names import validate_name
from secrets_core.secret import SecretValue

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


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


def secret_names(
    manager: SecretsManager, names: Iterable[str] | None, backend_type: str | enum.Enum | None
) -> list[str]:
    """``names`` as a list (None: every secret of the backend); one ``str`` is refused."""
    if names is None:
        return manager.list_secrets("", backend_type)
    if isinstance(names, str):
        raise TypeError("names must be a list of secret names, not one str")
    return list(names)


def secret_text(name: str, secret: SecretValue) -> str:
    """The value as text an environment variable can hold (UTF-8, no NUL), else
    :class:`~secrets_core.errors.InvalidSecretValueError` naming the secret, never the value."""
    raw = secret.reveal()
    if isinstance(raw, bytes):
        decoded = utf8(raw)
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


#: Variables that steer the dynamic loader, a shell or an interpreter: whoever can write a
#: secret named like one of these (``app/ld_preload``, ``app/bash_env``) could run code in
#: every ``run`` that injects it. A secret is refused such a variable unless allowed by name.
STEERING_VARIABLES = frozenset(
    {
        "PATH", "IFS", "ENV", "BASH_ENV", "CDPATH", "SHELLOPTS", "BASHOPTS", "PS4",
        "PROMPT_COMMAND", "GLOBIGNORE", "HOME", "SHELL", "TMPDIR", "PERLLIB", "RUBYOPT",
        "RUBYLIB", "CLASSPATH", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
        "NLSPATH", "LESSOPEN", "LESSCLOSE", "PAGER", "EDITOR", "VISUAL", "BROWSER",
        "GEM_PATH", "GEM_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    }
)  # fmt: skip
STEERING_PREFIXES = (
    "LD_", "DYLD_", "PYTHON", "PERL5", "PERL_", "NODE_", "NPM_CONFIG_", "RUBY", "JAVA_",
    "_JAVA_", "JDK_JAVA_", "BASH_FUNC_", "GIT_", "LUA_", "MALLOC_", "GLIBC_",
)  # fmt: skip


def steers_execution(variable: str) -> bool:
    """Whether ``variable`` changes what code a child (or its shell, loader, interpreter)
    runs; see :data:`STEERING_VARIABLES` and :data:`STEERING_PREFIXES`."""
    upper = variable.upper()
    return upper in STEERING_VARIABLES or upper.startswith(STEERING_PREFIXES)


def refuse_steering(owners: Mapping[str, str], allowed: Iterable[str] = ()) -> None:
    """Raise :class:`~secrets_core.errors.AccessDeniedError` for the first variable of
    ``owners`` (variable -> secret name) that steers execution and is not ``allowed``. The
    message names the variable and the secret, never a value."""
    permitted = set(allowed)
    for variable, name in owners.items():
        if steers_execution(variable) and variable not in permitted:
            raise AccessDeniedError(
                f"secret '{name}' would set ${variable}, which steers the loader, a shell or "
                f"an interpreter, so it is refused; if this is intended, allow it by name "
                f"(run --allow-variable {variable})"
            )


def credential_variables(manager: SecretsManager) -> set[str]:
    """Variables that unlock keys or credentials of this manager's configuration: the key
    variables, every ``{ env = "VAR" }`` reference in the config, and the fallback variable
    (``ConfigOption.env``) of every secret option of a configured plugin."""
    settings = manager.settings
    variables = set(KEY_VARIABLES)
    configured = settings.key_source_options.get("variable")
    if isinstance(configured, str):
        variables.add(configured)
    tables: list[tuple[str, str, Mapping[str, object]]] = [
        ("key source", settings.key_source, settings.key_source_options),
        *(("backend", name, table) for name, table in settings.backends.items()),
        ("backend", settings.default_backend, {}),
        *(("audit sink", sink.name, sink.options) for sink in settings.audit_sinks),
    ]
    registry = manager.registry
    for family, name, table in tables:
        for value in table.values():
            if isinstance(value, Mapping) and isinstance(value.get("env"), str):
                variables.add(str(value["env"]))
        try:
            schema = registry.lookup(family, name).options
        except SecretsError:  # not installed: nothing to learn from its schema
            continue
        variables.update(o.env for o in schema.values() if o.secret and o.env)
    return variables


def inherited_environment(manager: SecretsManager, keep: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``os.environ`` without :func:`credential_variables` (except ``keep``)."""
    drop = credential_variables(manager) - set(keep)
    return {k: v for k, v in os.environ.items() if k not in drop}


def child_environment(
    manager: SecretsManager,
    names: Iterable[str] | Mapping[str, str] | None = None,
    prefix: str | None = None,
    backend_type: str | enum.Enum | None = None,
    base: Mapping[str, str] | None = None,
    allow: Iterable[str] = (),
) -> dict[str, str]:
    """An environment for a subprocess with the decrypted values of chosen secrets.

    ``names`` is a list of secret names, each put in the variable
    :func:`child_variable_name` ``(name, prefix)`` (``db/password`` -> ``DB_PASSWORD``), or
    a mapping ``{secret name: variable}`` to choose the variables. ``names=None`` takes
    every secret of the backend whose name starts with ``prefix`` (a secret-name prefix
    such as ``"app/"``, which is left out of the variable names: ``app/db/password`` ->
    ``DB_PASSWORD``). ``base`` is the starting environment; by default
    :func:`inherited_environment`: ``os.environ`` without the variables holding this
    manager's key or its credentials (``SECURE_SECRETS_KEK``, ``SECURE_SECRETS_PASSPHRASE``,
    every ``{ env = "VAR" }`` of the config, ``VAULT_TOKEN`` for a Vault backend...): a child
    gets the values it needs, not the keys to all the others. ``os.environ`` is never
    modified.

    Values must be text (bytes must be UTF-8) without NUL. Two names mapping to one variable
    raise :class:`~secrets_core.errors.ConfigError` naming both; a variable that steers the
    loader, a shell or an interpreter (:func:`steers_execution`) raises
    :class:`~secrets_core.errors.AccessDeniedError` unless it is in ``allow``.
    """
    env = inherited_environment(manager, allow) if base is None else dict(base)
    if isinstance(names, Mapping):
        pairs = [(str(name), str(variable)) for name, variable in names.items()]
        for _name, variable in pairs:
            if not variable or "=" in variable or "\0" in variable:
                raise ConfigError(f"'{variable}' cannot be an environment variable name")
    else:
        chosen = (
            manager.list_secrets(prefix or "", backend_type)
            if names is None
            else secret_names(manager, names, backend_type)
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
    refuse_steering(owners, allow)
    error: SecretsError | None = None
    try:
        for name, variable in pairs:
            secret = SecretValue(manager.retrieve_secret(name, backend_type))
            env[variable] = secret_text(name, secret)
            del secret
    except SecretsError as exc:
        error = exc
    if error is None:
        return env
    env.clear()  # decrypted values gathered so far stay out of traceback locals
    raise error
