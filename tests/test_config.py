"""Configuration: precedence, the config file and its override, validation messages, credential
references, BackendType and directory overrides."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.config import load_settings
from secrets_core.errors import (
    BackendConfigurationError,
    BackendUnavailableError,
    ConfigError,
    PluginNotFoundError,
)
from secure_secrets import BackendType, SecureSecretsManager

CANARY = "CANARY-c0ff1e-must-never-be-echoed"


def config_file(home: Path) -> Path:
    return home / "config" / "secure-secrets" / "config.toml"


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def assert_names_not_echoes(exc: BaseException, *expected: str) -> None:
    message = str(exc)
    for part in expected:
        assert part in message, (part, message)
    assert CANARY not in message
    assert CANARY not in repr(exc)
    assert exc.__cause__ is None or CANARY not in str(exc.__cause__)


# --- BackendType -----------------------------------------------------------------------------


def test_backend_type_compares_equal_to_plugin_names() -> None:
    assert {m.name: m.value for m in BackendType} == {
        "FILE": "file",
        "ENV": "env",
        "VAULT": "vault",
    }
    assert BackendType.FILE == "file"
    assert BackendType.ENV == "env"
    assert BackendType.VAULT == "vault"
    assert BackendType.FILE != "vault"
    assert str(BackendType.FILE) == "file"
    assert f"{BackendType.VAULT}" == "vault"
    assert BackendType("env") is BackendType.ENV
    assert {"file": 1}[BackendType.FILE] == 1  # hashes like the string


# --- precedence: constructor > env > file > defaults -----------------------------------------


def test_default_backend_precedence(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SecureSecretsManager().default_backend == "file"

    write_config(config_file(isolated_home), 'default_backend = "vault"\n')
    from_file = SecureSecretsManager()
    assert from_file.default_backend == "vault"
    with pytest.raises(BackendConfigurationError, match="VAULT_ADDR"):  # vault, unconfigured
        from_file.store_secret("k", "v")

    monkeypatch.setenv("SECURE_SECRETS_BACKEND", "env")
    assert SecureSecretsManager().default_backend == "env"

    from_arg = SecureSecretsManager(default_backend=BackendType.FILE)
    assert from_arg.default_backend == "file"
    from_arg.store_secret("k", "v")
    assert from_arg.retrieve_secret("k") == "v"
    assert SecureSecretsManager(default_backend="file").default_backend == "file"


def test_data_dir_precedence(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, secret_file_name: Callable[[str], str]
) -> None:
    dirs = {label: isolated_home / label for label in ("file", "env", "arg")}
    default = isolated_home / "data" / "secure-secrets"

    write_config(config_file(isolated_home), f'data_dir = "{dirs["file"]}"\n')
    SecureSecretsManager().store_secret("from_file", "1")
    monkeypatch.setenv("SECURE_SECRETS_DATA_DIR", str(dirs["env"]))
    SecureSecretsManager().store_secret("from_env", "2")
    SecureSecretsManager(data_dir=dirs["arg"]).store_secret("from_arg", "3")

    for label, name in (("file", "from_file"), ("env", "from_env"), ("arg", "from_arg")):
        root = dirs[label]
        assert (root / "store" / secret_file_name(name)).is_file()
        assert (root / "keyring.json").is_file() and (root / "master.key").is_file()
        assert sorted(p.name for p in (root / "store").glob("*.secret")) == [secret_file_name(name)]
    assert not default.exists()
    assert SecureSecretsManager(data_dir=dirs["file"]).retrieve_secret("from_file") == "1"
    assert SecureSecretsManager().retrieve_secret("from_env") == "2"


def test_constructor_backend_options_override_the_file(
    isolated_home: Path, secret_file_name: Callable[[str], str]
) -> None:
    write_config(
        config_file(isolated_home),
        f"""
        [backends.file]
        path = "{isolated_home / "from-file"}"
        """,
    )
    SecureSecretsManager().store_secret("a", "1")
    SecureSecretsManager(
        backends={BackendType.FILE: {"path": str(isolated_home / "from-arg")}}
    ).store_secret("b", "2")
    assert (isolated_home / "from-file" / secret_file_name("a")).is_file()
    assert (isolated_home / "from-arg" / secret_file_name("b")).is_file()
    assert not (isolated_home / "from-file" / secret_file_name("b")).exists()


# --- where the file is -----------------------------------------------------------------------


def test_config_env_var_overrides_the_path(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(config_file(isolated_home), 'default_backend = "env"\n')
    other = write_config(isolated_home / "elsewhere" / "my.toml", 'default_backend = "vault"\n')
    assert SecureSecretsManager().default_backend == "env"
    monkeypatch.setenv("SECURE_SECRETS_CONFIG", str(other))
    settings = load_settings()
    assert settings.default_backend == "vault"
    assert settings.config_file == other
    assert SecureSecretsManager(config_path=config_file(isolated_home)).default_backend == "env"


def test_missing_explicit_config_file_is_an_error(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = isolated_home / "nope" / "config.toml"
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager(config_path=missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv("SECURE_SECRETS_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="SECURE_SECRETS_CONFIG"):
        SecureSecretsManager()


def test_missing_default_config_file_means_defaults() -> None:
    settings = load_settings()
    assert settings.config_file is None
    assert settings.default_backend == "file"
    assert settings.cipher == "fernet"
    assert settings.key_source == "keyfile"
    assert [s.name for s in settings.audit_sinks] == ["jsonl"]


def test_invalid_toml_names_the_file(isolated_home: Path) -> None:
    path = write_config(config_file(isolated_home), f"default_backend = {CANARY}\n")
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager()
    assert_names_not_echoes(info.value, str(path), "TOML")


# --- validation messages name file and key, never the value ----------------------------------


def test_unknown_top_level_key(isolated_home: Path) -> None:
    path = write_config(config_file(isolated_home), f'vault_tokn = "{CANARY}"\n')
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager()
    assert_names_not_echoes(info.value, str(path), "vault_tokn")


WRONG_TYPES = [
    (f'default_backend = ["{CANARY}"]', "default_backend"),
    (f'data_dir = {{ x = "{CANARY}" }}', "data_dir"),
    (f'log_dir = ["{CANARY}"]', "log_dir"),
    (f'backends = "{CANARY}"', "backends"),
    (f'[backends]\nfile = "{CANARY}"', "backends.file"),
    (f'cipher = "{CANARY}"', "cipher"),
    (f'[key_source]\nname = ["{CANARY}"]', "key_source.name"),
    (f'[audit]\nsinks = "{CANARY}"', "audit.sinks"),
    (f'[audit]\nsinks = [1, "{CANARY}"]', "audit.sinks"),
    (f'[plugins]\nblock = "{CANARY}"', "plugins.block"),
    (f'[plugins]\nallow = "{CANARY}"', "plugins.allow"),
    (f'[plugins]\nstrict = "{CANARY}"', "plugins.strict"),
]


@pytest.mark.parametrize(("toml", "key"), WRONG_TYPES, ids=[key for _, key in WRONG_TYPES])
def test_wrong_types_name_file_and_key(isolated_home: Path, toml: str, key: str) -> None:
    path = write_config(config_file(isolated_home), toml + "\n")
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager()
    assert_names_not_echoes(info.value, str(path), f"'{key}'")


def test_unknown_key_in_plugins_table(isolated_home: Path) -> None:
    path = write_config(config_file(isolated_home), '[plugins]\nblok = ["vault"]\n')
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager()
    assert_names_not_echoes(info.value, str(path), "blok")


def test_misspelt_audit_sink_table_is_an_error(isolated_home: Path) -> None:
    write_config(config_file(isolated_home), "[audit.jsnol]\nrequired = true\n")
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager().store_secret("k", "v")
    assert "jsnol" in str(info.value)


def test_unknown_backend_option_names_the_key(isolated_home: Path) -> None:
    path = write_config(config_file(isolated_home), f'[backends.file]\npathh = "{CANARY}"\n')
    manager = SecureSecretsManager()
    with pytest.raises(ConfigError) as info:
        manager.store_secret("k", "v")
    assert_names_not_echoes(info.value, "'pathh'", "backends.file", str(path), "path")


def test_unknown_backend_option_from_the_constructor() -> None:
    manager = SecureSecretsManager(backends={"file": {"colour": CANARY}})
    with pytest.raises(ConfigError) as info:
        manager.store_secret("k", "v")
    assert_names_not_echoes(info.value, "'colour'", "backends.file")


def test_wrong_backend_option_type(isolated_home: Path) -> None:
    write_config(config_file(isolated_home), f'[backends.file]\nlock_timeout = "{CANARY}"\n')
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager().store_secret("k", "v")
    assert_names_not_echoes(info.value, "'lock_timeout'", "backends.file")


def test_backends_table_from_constructor_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError):
        SecureSecretsManager(backends={"file": CANARY})  # type: ignore[dict-item]


def test_invalid_env_bool_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_SECRETS_PLUGINS_STRICT", CANARY)
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager()
    assert_names_not_echoes(info.value, "SECURE_SECRETS_PLUGINS_STRICT")


# --- credential references -------------------------------------------------------------------


def test_env_reference_resolves(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, secret_file_name: Callable[[str], str]
) -> None:
    store = isolated_home / "store-from-env"
    monkeypatch.setenv("MY_STORE_DIR", str(store))
    write_config(config_file(isolated_home), '[backends.file]\npath = { env = "MY_STORE_DIR" }\n')
    SecureSecretsManager().store_secret("k", "v")
    assert (store / secret_file_name("k")).is_file()


def test_file_reference_resolves(
    isolated_home: Path, secret_file_name: Callable[[str], str]
) -> None:
    store = isolated_home / "store-from-file"
    ref = isolated_home / "store-path.txt"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(f"{store}\n")  # trailing newline, as editors write it
    write_config(config_file(isolated_home), f'[backends.file]\npath = {{ file = "{ref}" }}\n')
    SecureSecretsManager().store_secret("k", "v")
    assert (store / secret_file_name("k")).is_file()


def test_reference_from_the_constructor(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, secret_file_name: Callable[[str], str]
) -> None:
    store = isolated_home / "store-arg"
    monkeypatch.setenv("ARG_STORE", str(store))
    SecureSecretsManager(backends={"file": {"path": {"env": "ARG_STORE"}}}).store_secret("k", "v")
    assert (store / secret_file_name("k")).is_file()


def test_missing_env_reference_names_the_variable_not_values(isolated_home: Path) -> None:
    path = write_config(
        config_file(isolated_home),
        f"""
        [backends.vault]
        vault_url = "https://{CANARY}.example.com"
        vault_token = {{ env = "SS_TEST_UNSET_TOKEN_VAR" }}
        """,
    )
    manager = SecureSecretsManager()
    with pytest.raises(ConfigError) as info:
        manager.store_secret("k", "v", backend_type=BackendType.VAULT)
    assert_names_not_echoes(
        info.value, "SS_TEST_UNSET_TOKEN_VAR", "vault_token", "backends.vault", str(path)
    )


def test_unreadable_file_reference(isolated_home: Path) -> None:
    missing = isolated_home / "no-token-file"
    write_config(
        config_file(isolated_home), f'[backends.vault]\nvault_token = {{ file = "{missing}" }}\n'
    )
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager().retrieve_secret("k", backend_type="vault")
    assert_names_not_echoes(info.value, "vault_token", str(missing))


@pytest.mark.parametrize(
    "ref",
    [f'{{ env = "A", file = "{CANARY}" }}', f'{{ value = "{CANARY}" }}', "{ env = 5 }"],
)
def test_malformed_reference(isolated_home: Path, ref: str) -> None:
    write_config(config_file(isolated_home), f"[backends.vault]\nvault_token = {ref}\n")
    with pytest.raises(ConfigError) as info:
        SecureSecretsManager().store_secret("k", "v", backend_type="vault")
    assert_names_not_echoes(info.value, "vault_token")


def test_resolved_token_reaches_the_backend_not_the_error(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SS_TEST_TOKEN", CANARY)
    write_config(
        config_file(isolated_home),
        '[backends.vault]\nvault_token = { env = "SS_TEST_TOKEN" }\n'
        'vault_url = "http://127.0.0.1:9"\nmax_retries = 0\n',  # nothing listens there
    )
    # The reference resolves; the backend then cannot connect, and says so without the token.
    with pytest.raises(BackendUnavailableError) as info:
        SecureSecretsManager().store_secret("k", "v", backend_type="vault")
    assert_names_not_echoes(info.value, "cannot connect")


# --- other selections ------------------------------------------------------------------------


def test_unknown_cipher_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_SECRETS_CIPHER", "rot13")
    with pytest.raises(PluginNotFoundError, match="rot13"):
        SecureSecretsManager().store_secret("k", "v")


def test_unknown_audit_sink_is_reported_by_name() -> None:
    with pytest.raises(PluginNotFoundError, match="carrier-pigeon"):
        SecureSecretsManager(audit_sinks=["carrier-pigeon"]).store_secret("k", "v")
