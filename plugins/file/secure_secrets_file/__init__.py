"""The ``file`` storage backend of secure-secrets: one file per secret in a private directory."""
