"""The ``fernet`` cipher of secure-secrets."""
