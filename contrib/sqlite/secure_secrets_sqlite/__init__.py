"""A secure-secrets storage backend keeping every secret in one SQLite database file."""
