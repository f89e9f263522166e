"""Exporting secrets as the env backend's variables, for ``docker --env-file``, Kubernetes
Secrets or a process configured with the env backend: ``VARIABLE=token`` for any backend's
secrets, readable by the env backend elsewhere (same keyring and key)."""

from __future__ import annotations

import base64
import enum
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from secrets_core.child_env import child_variable_name, secret_names, secret_text
from secrets_core.errors import ConfigError, InvalidSecretValueError, SecretsError
from secrets_core.secret import SecretValue
from secure_secrets_env.format import (
    _PREFIX_RE,
    DEFAULT_PREFIX,
    TOKEN_MARKER,
    check_prefix,
    encode_value,
    variable_name,
)

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager


def env_backend_prefix(manager: SecretsManager) -> str:
    """The env backend's configured prefix (``[backends.env] prefix``), or the default."""
    configured = manager.settings.backends.get("env", {}).get("prefix")
    return check_prefix(configured) if isinstance(configured, str) else DEFAULT_PREFIX


def _seal_for_env(manager: SecretsManager, name: str, secret: SecretValue) -> str:
    """A fresh env-backend token for ``secret`` under the primary data key, bound to ``name``:
    the envelope the env backend (which does not encrypt at rest) stores, whatever backend the
    value came from."""
    return encode_value(manager.seal(name, secret.reveal()))


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
    chosen = secret_names(manager, names, backend_type)
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
                else _single_line(name, secret_text(name, secret))
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
