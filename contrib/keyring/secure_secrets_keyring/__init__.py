"""A secure-secrets key source keeping the key-encryption key in the OS keyring."""
