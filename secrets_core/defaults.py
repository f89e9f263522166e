"""Every default the core writes down: file names, directories and environment variables.

One table per fact: anything that needs the key file's default name, the audit log's, or the
passphrase variable's reads it here (and config options declare these as their defaults), so
a change is made once. Directories come from platformdirs, resolved on demand.
"""

from pathlib import Path

APP_NAME = "secure-secrets"

# --- files -----------------------------------------------------------------------------------
CONFIG_FILE = "config.toml"
KEYRING_FILE = "keyring.json"
KEY_FILE = "master.key"
AUDIT_LOG_FILE = "audit.jsonl"
PROFILES_DIR = "profiles"

# --- environment variables -------------------------------------------------------------------
ENV_CONFIG = "SECURE_SECRETS_CONFIG"
ENV_DEFAULT_BACKEND = "SECURE_SECRETS_BACKEND"
ENV_DATA_DIR = "SECURE_SECRETS_DATA_DIR"
ENV_LOG_DIR = "SECURE_SECRETS_LOG_DIR"
ENV_CIPHER = "SECURE_SECRETS_CIPHER"
ENV_KEY_SOURCE = "SECURE_SECRETS_KEY_SOURCE"
ENV_AUDIT_SINKS = "SECURE_SECRETS_AUDIT_SINKS"
ENV_PLUGINS_ALLOW = "SECURE_SECRETS_PLUGINS_ALLOW"
ENV_PLUGINS_BLOCK = "SECURE_SECRETS_PLUGINS_BLOCK"
ENV_PLUGINS_STRICT = "SECURE_SECRETS_PLUGINS_STRICT"
ENV_PROFILE = "SECURE_SECRETS_PROFILE"
ENV_KEYRING = "SECURE_SECRETS_KEYRING"
ENV_PASSPHRASE = "SECURE_SECRETS_PASSPHRASE"  # noqa: S105 (a variable name)
ENV_KEK = "SECURE_SECRETS_KEK"
#: Variables that unlock the keyring: never handed to a child process.
KEY_VARIABLES = (ENV_PASSPHRASE, ENV_KEK)

# --- implementations chosen when the config names none ----------------------------------------
DEFAULT_BACKEND = "file"
DEFAULT_CIPHER = "fernet"
DEFAULT_KEY_SOURCE = "keyfile"
DEFAULT_KDF = "argon2id"
DEFAULT_AUDIT_SINKS = ("jsonl",)


def user_config_dir() -> Path:
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def user_data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def user_log_dir() -> Path:
    import platformdirs

    return platformdirs.user_log_path(APP_NAME)


def keyring_path(data_dir: Path) -> Path:
    return data_dir / KEYRING_FILE


def key_file_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def audit_log_path(log_dir: Path) -> Path:
    return log_dir / AUDIT_LOG_FILE
