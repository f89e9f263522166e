"""The ``vault`` storage backend of secure-secrets."""
