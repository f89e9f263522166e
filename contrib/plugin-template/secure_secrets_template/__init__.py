"""A template secure-secrets plugin: the ``memory`` backend (process-local, for tests)."""
