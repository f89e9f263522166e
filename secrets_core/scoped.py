"""Least privilege inside a process: handles that may touch only the names they were granted.

``manager.scoped("billing/", read_only=True)`` or ``manager.scoped(policy="billing")`` (a
``[policies.billing]`` table in the config) returns a :class:`ScopedSecrets`. A denied call
raises :class:`~secrets_core.errors.AccessDeniedError` and is audited with outcome
``denied``. A scoped handle is a guard rail for code you own, not a sandbox: code holding
the manager itself can still do anything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from secrets_core.arguments import checked_arguments
from secrets_core.audit._operation import Operation
from secrets_core.config import AccessPolicy
from secrets_core.errors import AccessDeniedError, ConfigError, SecretsError
from secrets_core.names import validate_name, validate_prefix

if TYPE_CHECKING:
    from secrets_core.audit._events import AuditEvent
    from secrets_core.manager import SecretsManager

BackendArg = str | enum.Enum | None


@checked_arguments
class ScopedSecrets:
    """The manager's per-secret API, limited to an :class:`AccessPolicy`."""

    def __init__(self, manager: SecretsManager, policy: AccessPolicy, label: str) -> None:
        self._manager = manager
        self.policy = policy
        self.label = label

    @classmethod
    def granting(
        cls, manager: SecretsManager, names: tuple[str, ...], read_only: bool, policy: str | None
    ) -> ScopedSecrets:
        """What :meth:`SecretsManager.scoped` returns: a handle for ``names`` (read-only if
        asked) or for the config's ``[policies.NAME]``."""
        policies = manager.settings.policies
        if policy is not None:
            if names or read_only:
                raise ConfigError("give either names (and read_only) or a policy name, not both")
            if policy not in policies:
                known = ", ".join(sorted(policies)) or "none defined"
                raise ConfigError(f"no access policy named '{policy}' (policies: {known})")
            return cls(manager, policies[policy], f"policy '{policy}'")
        if not names:
            raise ConfigError("a scoped handle needs at least one name or prefix")
        for name in names:
            validate_prefix(name)
        granted = AccessPolicy(read=names, write=() if read_only else names)
        return cls(manager, granted, f"handle scoped to {', '.join(names)}")

    def __repr__(self) -> str:
        return f"ScopedSecrets({self.label!r}, read={self.policy.read}, write={self.policy.write})"

    def _guard(self, operation: str, name: str, write: bool, backend_type: BackendArg) -> None:
        try:
            valid = validate_name(name)
        except SecretsError:
            return  # the manager's own call validates, audits and raises
        if not self.policy.allows(valid, write):
            with self._manager.assembly.operation(Operation(operation), name, backend_type):
                raise AccessDeniedError(
                    f"{self.label} may not {'write' if write else 'read'} secret '{valid}'; "
                    "widen its policy if this access is intended"
                )

    def store_secret(
        self,
        name: str,
        value: str | bytes,
        backend_type: BackendArg = None,
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> AuditEvent:
        try:
            self._guard("store", name, True, backend_type)
        except SecretsError:
            del value  # a denied value stays out of the traceback's locals
            raise
        return self._manager.store_secret(name, value, backend_type, metadata=metadata)

    def retrieve_secret(
        self, name: str, backend_type: BackendArg = None, *, version: int | None = None
    ) -> str | bytes:
        self._guard("retrieve", name, False, backend_type)
        return self._manager.retrieve_secret(name, backend_type, version=version)

    def delete_secret(self, name: str, backend_type: BackendArg = None) -> AuditEvent:
        self._guard("delete", name, True, backend_type)
        return self._manager.delete_secret(name, backend_type)

    def list_secrets(self, prefix: str = "", backend_type: BackendArg = None) -> list[str]:
        """Only the names this handle may read."""
        names = self._manager.list_secrets(prefix, backend_type)
        return [name for name in names if self.policy.allows(name, write=False)]
