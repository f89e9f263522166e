"""The ``env`` storage backend of secure-secrets."""
