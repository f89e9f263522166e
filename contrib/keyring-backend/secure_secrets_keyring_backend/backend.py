"""The keyring backend: keyring's four calls mapped onto one :class:`SecureSecretsManager`.

This module is imported by keyring itself (entry point group ``keyring.backends``) in every
process that imports keyring, so it must stay cheap: secure-secrets is imported only when the
backend is first used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from keyring import credentials, errors
from keyring.backend import KeyringBackend
from keyring.compat import properties

from secure_secrets_keyring_backend.naming import pair_of, secret_name, service_prefix

if TYPE_CHECKING:
    from secure_secrets import SecureSecretsManager

#: Below every recommended backend (keyring's threshold is 1; the OS keychains are 4.9-5),
#: below keyrings.alt (0.5), above keyring's "fail" (0) and "null" (-1) backends.
PRIORITY = 0.1
_DOCS = "see docs/keyring-backend.md"


class SecureSecretsKeyring(KeyringBackend):
    """Credentials as secrets named ``keyring/<service>/<username>`` (see
    :mod:`secure_secrets_keyring_backend.naming`) in one secure-secrets store.

    Properties (``KEYRING_PROPERTY_<NAME>`` variables or ``with_properties(name=...)``), each
    falling back to secure-secrets' own variable and then its config file:

    * ``backend``: the secure-secrets backend (``SECURE_SECRETS_BACKEND``; default ``file``);
    * ``config_path``: the config file (``SECURE_SECRETS_CONFIG``);
    * ``profile``: the profile (``SECURE_SECRETS_PROFILE``).
    """

    backend: str | None = None
    config_path: str | None = None
    profile: str | None = None

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 (keyring's classproperty)
        """Low on purpose: chosen only when selected (``PYTHON_KEYRING_BACKEND`` or
        ``keyringrc.cfg``) or when keyring has nothing else but its fail/null backends."""
        return PRIORITY

    @properties.classproperty
    def name(cls) -> str:  # noqa: N805
        return "secure-secrets"

    def __init__(self) -> None:
        super().__init__()
        self._managers: dict[tuple[str | None, ...], SecureSecretsManager] = {}
        self._lock = threading.Lock()

    # --- keyring's API ---------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        from secure_secrets.exceptions import InvalidSecretNameError, SecretNotFoundError

        with self._converted(errors.KeyringError, "read"):
            try:
                value = self.manager.retrieve_secret(secret_name(service, username))
            except (SecretNotFoundError, InvalidSecretNameError):
                return None  # a pair too long for a name cannot have been stored
            return value if isinstance(value, str) else value.decode("utf-8")

    def set_password(self, service: str, username: str, password: str) -> None:
        if not isinstance(password, str):
            raise errors.PasswordSetError(f"a password must be a str, not {type(password).__name__}")
        from secure_secrets.exceptions import InvalidSecretNameError

        name = secret_name(service, username)
        with self._converted(errors.PasswordSetError, "stored"):
            try:
                self.manager.store_secret(name, password)
            except InvalidSecretNameError:
                raise errors.PasswordSetError(
                    f"secure-secrets: this service and username are too long together: their "
                    f"secret name would have {len(name)} characters, more than a name may have; "
                    "store the credential under a shorter service, such as the host name "
                    f"alone (pip looks it up too) ({_DOCS}, 'Limits')"
                ) from None

    def delete_password(self, service: str, username: str) -> None:
        """Destroy the credential and every version of it (``purge_secret``): a deleted
        password is gone, not restorable."""
        from secure_secrets.exceptions import InvalidSecretNameError, SecretNotFoundError

        with self._converted(errors.PasswordDeleteError, "deleted"):
            try:
                self.manager.purge_secret(secret_name(service, username))
            except (SecretNotFoundError, InvalidSecretNameError):
                raise errors.PasswordDeleteError(
                    f"no password stored for this service and username ({_DOCS})"
                ) from None

    def get_credential(self, service: str, username: str | None) -> credentials.Credential | None:
        """With a username, its password; without, the first username stored for
        ``service`` (in name order) and its password; None when there is none."""
        if username is not None:
            password = self.get_password(service, username)
            return None if password is None else credentials.SimpleCredential(username, password)
        from secure_secrets.exceptions import BackendConfigurationError, InvalidSecretNameError

        with self._converted(errors.KeyringError, "listed"):
            try:
                names = self.manager.list_secrets(service_prefix(service))
            except (BackendConfigurationError, InvalidSecretNameError):
                return None  # a backend that cannot list, or a service too long for a name
        for name in names:
            found = pair_of(name)[1]
            password = self.get_password(service, found)
            if password is not None:  # deleted in between: try the next one
                return credentials.SimpleCredential(found, password)
        return None

    # --- the store ---------------------------------------------------------------------------

    @property
    def manager(self) -> SecureSecretsManager:
        """The manager for the current properties (one per combination, made on first use;
        a bad configuration raises secure-secrets' ``ConfigError``, which each keyring call
        turns into its own error)."""
        key = (self.backend, self.config_path, self.profile)
        manager = self._managers.get(key)
        if manager is None:
            with self._lock:
                manager = self._managers.get(key) or self._make_manager()
                self._managers[key] = manager
        return manager

    def _make_manager(self) -> SecureSecretsManager:
        from secure_secrets import SecureSecretsManager

        return SecureSecretsManager(
            default_backend=self.backend or None,
            config_path=self.config_path or None,
            profile=self.profile or None,
        )

    @contextmanager
    def _converted(self, kind: type[errors.KeyringError], verb: str) -> Iterator[None]:
        """Turn a secure-secrets error into ``kind`` (``KeyringLocked`` when the keys cannot
        be unlocked), keeping our message (it never holds a value) and chaining nothing."""
        from secure_secrets.exceptions import KeyNotAvailableError, SecretsError

        try:
            yield
        except SecretsError as exc:
            if kind is errors.KeyringError and isinstance(exc, KeyNotAvailableError):
                kind = errors.KeyringLocked
            message = f"secure-secrets: the password could not be {verb}: {type(exc).__name__}: {exc}"
            raise kind(message) from None
