"""The typed error hierarchy.

Every error the library raises derives from :class:`SecretsError`. Messages name the secret,
the backend, the config key or the plugin involved and say what to do next; they never carry
a secret value, a token or key material. Errors converted from third-party exceptions are
raised ``from None`` so that the original (which may hold URLs, headers or tokens) is not
chained.
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base class of every error raised by secure-secrets."""


# --- access ---------------------------------------------------------------------------------


class SecretAccessError(SecretsError):
    """A secret could not be read, written or deleted."""


class SecretNotFoundError(SecretAccessError, KeyError):
    """No secret with this name exists in the backend.

    Also a :class:`KeyError`, so ``except KeyError`` works as for a mapping.
    """

    def __str__(self) -> str:  # KeyError's str() would quote the whole message
        return str(self.args[0]) if self.args else ""


class AccessDeniedError(SecretAccessError):
    """The backend (or a policy) refused the operation."""


class ConflictError(SecretAccessError):
    """A check-and-set write was refused: the secret's current version is not the one the
    caller expected (another writer changed it in between). Read it again and retry."""


class InvalidSecretNameError(SecretsError, ValueError):
    """A secret name is not allowed (see :mod:`secrets_core.names`)."""


class InvalidArgumentError(SecretsError, TypeError):
    """An argument of a public method has the wrong type (``version="1"``, ``backend_type=3``):
    a mistake in the calling code, raised before anything is done. Also a :class:`TypeError`."""


class InvalidSecretValueError(InvalidArgumentError):
    """A secret value is not ``str`` or ``bytes``."""


class SecretTooLargeError(InvalidSecretValueError, ValueError):
    """A value to store is larger than :data:`secrets_core.secret.MAX_VALUE_BYTES` (4 MiB)."""


# --- crypto ---------------------------------------------------------------------------------


class EncryptionError(SecretsError):
    """Encrypting or decrypting failed."""


class IntegrityError(EncryptionError):
    """Stored ciphertext is corrupt, tampered with, truncated or belongs to another secret."""


class KeyNotAvailableError(EncryptionError):
    """The key needed to decrypt is missing, wrong or not readable."""


# --- configuration and backends -------------------------------------------------------------


class ConfigError(SecretsError):
    """The configuration is invalid. The message names the file and the key, never the value."""


class BackendConfigurationError(ConfigError):
    """A backend is misconfigured, or not installed."""


class PluginNotFoundError(BackendConfigurationError):
    """No installed plugin provides the requested backend, cipher, KDF, key source or sink."""


class InvalidReferenceError(ConfigError, ValueError):
    """A value starts with ``ss:`` but is not a valid secret reference (see
    docs/references.md). The message names the variable, never the value."""


class BackendUnavailableError(SecretAccessError):
    """The backend cannot be reached or is not usable right now (down, sealed, locked)."""


class LockTimeoutError(BackendUnavailableError):
    """A lock on the store could not be acquired in time."""


class RotationIncompleteError(BackendUnavailableError):
    """A key rotation could not cover every store sealed with the keyring (one is down, not
    configured as recorded, or its plugin is not installed), so no key was retired. The
    message names each blocking store; run the rotation again to resume once it is back."""


class KeyringRollbackError(KeyNotAvailableError):
    """The keyring is older than the store it is used with: the store holds ciphertext under
    a data key this keyring does not know, or has seen a newer keyring generation. Writing
    would seal values under a key the current keyring may have retired, so nothing is
    written; put the newest keyring back."""


class UnresolvedReferencesError(SecretAccessError):
    """One or more secret references could not be resolved. ``failures`` maps each variable
    (or key) to its own error; the message lists the variables and the reasons, never a
    value."""

    def __init__(self, failures: dict[str, SecretsError]) -> None:
        self.failures = failures
        listed = "; ".join(
            f"${key}: {type(error).__name__}: {error}" for key, error in sorted(failures.items())
        )
        count = len(failures)
        super().__init__(
            f"{count} secret reference{'s' if count > 1 else ''} could not be resolved: {listed}"
        )

    def __reduce__(self) -> tuple[type, tuple[dict[str, SecretsError]]]:
        return type(self), (self.failures,)


# --- plugins --------------------------------------------------------------------------------


class PluginError(SecretsError):
    """A plugin could not be loaded or used."""


class PluginLoadError(PluginError):
    """A plugin's entry point failed to import or register (raised in strict mode)."""


class PluginContractError(PluginError):
    """A plugin's factory returned something that is not what its descriptor promises (not a
    storage backend, cipher, KDF, key source or audit sink)."""


class PluginConflictError(PluginError):
    """Two distributions provide the same plugin or implementation name."""


# --- audit ----------------------------------------------------------------------------------


class AuditError(SecretsError):
    """A required audit sink failed, so the operation was refused (fail closed)."""


__all__ = [
    "AccessDeniedError",
    "AuditError",
    "BackendConfigurationError",
    "BackendUnavailableError",
    "ConfigError",
    "ConflictError",
    "EncryptionError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidReferenceError",
    "InvalidSecretNameError",
    "InvalidSecretValueError",
    "KeyNotAvailableError",
    "KeyringRollbackError",
    "LockTimeoutError",
    "PluginConflictError",
    "PluginContractError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "RotationIncompleteError",
    "SecretAccessError",
    "SecretNotFoundError",
    "SecretTooLargeError",
    "SecretsError",
    "UnresolvedReferencesError",
]


def install_hint(distribution: str) -> str:
    """How to install ``distribution``: from an index, and from a source checkout (whose
    plugin distributions are not on any index until built into the wheelhouse)."""
    return (
        f"pip install {distribution} (from a source checkout: scripts/build-wheelhouse, then "
        f"pip install --find-links dist {distribution})"
    )
