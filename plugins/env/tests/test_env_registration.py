"""The env backend is registered but not yet available: it must say so, typed and clearly."""

from __future__ import annotations

import pytest

from secure_secrets import BackendType, SecureSecretsManager
from secure_secrets.exceptions import BackendUnavailableError


def test_env_backend_resolves_and_says_not_yet_available() -> None:
    manager = SecureSecretsManager()
    with pytest.raises(BackendUnavailableError, match="not yet available"):
        manager.store_secret("a", "v", backend_type=BackendType.ENV)
