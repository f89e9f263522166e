"""The keyring backend: keyring's four calls mapped onto one :class:`SecureSecretsManager`.

This module is imported by keyring itself (entry point group ``keyring.backends``) in every
process that imports keyring, so it must stay cheap: secure-secrets is imported only when the
backend is first used. ``except`` clauses name our errors through :func:`_ours`, which is only
evaluated when something was raised, so the read path pays nothing for them.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

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
_exceptions: ModuleType | None = None
_calls = threading.local()  # .depth: keyring calls of ours running in this thread


def _ours() -> ModuleType:
    """``secure_secrets.exceptions``, imported on first use."""
    global _exceptions
    if _exceptions is None:
        import secure_secrets.exceptions as module

        _exceptions = module
    return _exceptions


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
        super().__init__()  # type: ignore[no-untyped-call]
        self._managers: dict[tuple[str | None, ...], SecureSecretsManager] = {}
        self._lock = threading.Lock()

    # --- keyring's API ---------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        manager = self._enter(errors.KeyringError, "read")
        try:
            value = manager.retrieve_secret(secret_name(service, username))
        except (_ours().SecretNotFoundError, _ours().InvalidSecretNameError):
            return None  # a pair too long for a name cannot have been stored
        except _ours().SecretsError as exc:
            self._fail(errors.KeyringError, "read", exc)
        finally:
            _calls.depth -= 1
        if isinstance(value, str):
            return value
        try:  # stored as bytes by something else than keyring
            return value.decode("utf-8")
        except UnicodeDecodeError:
            del value  # the error (and this frame) would carry it
        raise errors.KeyringError(
            "secure-secrets: this credential holds bytes that are not UTF-8 text; keyring "
            "passwords are text (read it with secure-secrets get)"
        )

    def set_password(self, service: str, username: str, password: str) -> None:
        failure: tuple[type[errors.KeyringError], str] | None = None
        try:
            self._store(secret_name(service, username), password)
        except errors.KeyringError as exc:
            failure = type(exc), str(exc)
        except Exception as exc:  # anything else: its type only
            failure = errors.PasswordSetError, f"secure-secrets: {type(exc).__name__}"
        finally:
            del password  # raised afresh below: no frame of ours holding it in the traceback
        if failure is not None:
            raise failure[0](failure[1]) from None

    def _store(self, name: str, password: str) -> None:
        if not isinstance(password, str):
            raise errors.PasswordSetError(
                f"a password must be a str, not {type(password).__name__}"
            )
        manager = self._enter(errors.PasswordSetError, "stored")
        try:
            manager.store_secret(name, password)
        except _ours().InvalidSecretNameError:
            raise errors.PasswordSetError(
                "secure-secrets: this service and username are too long together: their "
                f"secret name would have {len(name)} characters, more than a name may have; "
                "store the credential under a shorter service, such as the host name alone "
                f"(pip looks it up too) ({_DOCS}, 'Limits')"
            ) from None
        except _ours().SecretsError as exc:
            self._fail(errors.PasswordSetError, "stored", exc)
        finally:
            _calls.depth -= 1

    def delete_password(self, service: str, username: str) -> None:
        """Destroy the credential and every version of it (``purge_secret``): a deleted
        password is gone, not restorable."""
        manager = self._enter(errors.PasswordDeleteError, "deleted")
        try:
            manager.purge_secret(secret_name(service, username))
        except (_ours().SecretNotFoundError, _ours().InvalidSecretNameError):
            raise errors.PasswordDeleteError(
                f"secure-secrets: no password is stored for this service and username ({_DOCS})"
            ) from None
        except _ours().SecretsError as exc:
            self._fail(errors.PasswordDeleteError, "deleted", exc)
        finally:
            _calls.depth -= 1

    def get_credential(self, service: str, username: str | None) -> credentials.Credential | None:
        """With a username, its password; without, the first username stored for
        ``service`` (in name order) and its password; None when there is none."""
        if username is not None:
            password = self.get_password(service, username)
            return None if password is None else credentials.SimpleCredential(username, password)
        manager = self._enter(errors.KeyringError, "listed")
        try:
            names = manager.list_secrets(service_prefix(service))
        except (_ours().BackendConfigurationError, _ours().InvalidSecretNameError):
            return None  # a backend that cannot list, or a service too long for a name
        except _ours().SecretsError as exc:
            self._fail(errors.KeyringError, "listed", exc)
        finally:
            _calls.depth -= 1
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
        a bad configuration raises secure-secrets' ``ConfigError``)."""
        key = (self.backend, self.config_path, self.profile)
        manager = self._managers.get(key)
        if manager is None:
            from secure_secrets import SecureSecretsManager

            with self._lock:
                manager = self._managers.get(key) or SecureSecretsManager(
                    default_backend=self.backend or None,
                    config_path=self.config_path or None,
                    profile=self.profile or None,
                )
                self._managers[key] = manager
        return manager

    def _enter(self, kind: type[errors.KeyringError], verb: str) -> SecureSecretsManager:
        """Count a call of ours in this thread, and return the manager. The caller decrements
        the count in its ``finally``. A call arriving while one of ours runs in the same
        thread means secure-secrets asked the keyring for its own key (the ``os-keyring`` key
        source with this backend as keyring's default): refused, or it would recurse."""
        depth = getattr(_calls, "depth", 0)
        if depth:
            _calls.looped = True
            raise kind("secure-secrets: a keyring call from inside secure-secrets itself")
        _calls.depth, _calls.looped = 1, False
        try:
            return self.manager
        except _ours().SecretsError as exc:
            _calls.depth = 0
            self._fail(kind, verb, exc)

    @staticmethod
    def _fail(kind: type[errors.KeyringError], verb: str, exc: Exception) -> NoReturn:
        """Raise ``kind`` (``KeyringLocked`` when the keys cannot be unlocked) with our
        message, which never holds a value, chaining nothing."""
        if getattr(_calls, "looped", False):
            raise kind(
                "secure-secrets: its key source asked the keyring for secure-secrets' own key, "
                "and the keyring is secure-secrets: give the os-keyring key source another "
                f"keyring backend ([key_source] backend = ...) or use another key source ({_DOCS})"
            ) from None
        if kind is errors.KeyringError and isinstance(exc, _ours().KeyNotAvailableError):
            kind = errors.KeyringLocked
        raise kind(
            f"secure-secrets: the password could not be {verb}: {type(exc).__name__}: {exc}"
        ) from None
