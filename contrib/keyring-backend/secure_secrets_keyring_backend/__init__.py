"""secure-secrets as a ``keyring`` backend (see docs/keyring-backend.md).

Select it with ``PYTHON_KEYRING_BACKEND=secure_secrets_keyring_backend.SecureSecretsKeyring``
or ``default-keyring = secure_secrets_keyring_backend.SecureSecretsKeyring`` in
``keyringrc.cfg``.
"""

from secure_secrets_keyring_backend.backend import SecureSecretsKeyring
from secure_secrets_keyring_backend.naming import PREFIX, pair_of, secret_name, service_prefix

__all__ = ["PREFIX", "SecureSecretsKeyring", "pair_of", "secret_name", "service_prefix"]
