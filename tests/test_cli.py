"""The `secure-secrets` command line, verb by verb, through click's CliRunner (in process).

Every invocation is checked for the canary value in stderr; failing ones in all output.
`run` and the terminal prompts are tested with real processes in test_cli_run.py and
test_cli_prompt.py.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from secrets_core.cli import errors as exit_codes
from secrets_core.cli.app import cli
from secrets_core.cli.envnames import variable_map, variable_name
from secrets_core.cli.masking import MASK, Masker

CANARY = "canary-7f3a9c-do-not-print"
PASSPHRASE_VAR = "SECURE_SECRETS_PASSPHRASE"


class Cli:
    """Invoke the CLI in process and check every result for leaked values."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str | None] | None = None,
        code: int = 0,
    ) -> Result:
        result = self.runner.invoke(
            cli,
            list(args),
            input=input,
            env=env,
            catch_exceptions=False,
            prog_name="secure-secrets",
        )
        assert CANARY not in result.stderr, result.stderr
        if result.exit_code != 0:
            assert CANARY not in result.output
        assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
        return result


@pytest.fixture
def run() -> Cli:
    return Cli()


@pytest.fixture
def initialised(run: Cli) -> Cli:
    run("init", "--key-source", "keyfile")
    return run


def data_dir(home: Path) -> Path:
    return home / "data" / "secure-secrets"


def config_file(home: Path) -> Path:
    return home / "config" / "secure-secrets" / "config.toml"


def assert_one_line_error(result: Result) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


# --- init ---------------------------------------------------------------------------------------


def test_init_writes_the_config_and_creates_the_keyring(run: Cli, isolated_home: Path) -> None:
    result = run("init", "--key-source", "keyfile")
    path = config_file(isolated_home)
    assert str(path) in result.stdout
    text = path.read_text()
    assert 'default_backend = "file"' in text and 'name = "keyfile"' in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keyring = json.loads((data_dir(isolated_home) / "keyring.json").read_text())
    assert keyring["key_source"]["name"] == "keyfile"
    assert stat.S_IMODE((data_dir(isolated_home) / "master.key").stat().st_mode) == 0o600


def test_init_refuses_to_overwrite_without_force(run: Cli, isolated_home: Path) -> None:
    run("init")
    before = config_file(isolated_home).read_text()
    result = run("init", "--key-source", "passphrase", code=exit_codes.CONFIG)
    assert_one_line_error(result)
    assert "--force" in result.stderr
    assert config_file(isolated_home).read_text() == before


def test_init_force_keeps_the_keyring_and_its_secrets(initialised: Cli) -> None:
    initialised("set", "kept", input="value-1")
    result = initialised("init", "--force")
    assert "existing keyring" in result.stdout
    assert initialised("get", "kept").stdout == "value-1"


def test_init_with_a_mismatching_key_source_restores_the_old_config(
    initialised: Cli, isolated_home: Path
) -> None:
    before = config_file(isolated_home).read_text()
    result = initialised(
        "init", "--force", "--key-source", "env", env={"SECURE_SECRETS_KEK": None},
        code=exit_codes.INTEGRITY,
    )  # fmt: skip
    assert_one_line_error(result)
    assert config_file(isolated_home).read_text() == before


def test_init_with_an_unknown_backend_writes_nothing(run: Cli, isolated_home: Path) -> None:
    result = run("init", "--backend", "nosuch", code=exit_codes.CONFIG)
    assert "nosuch" in result.stderr
    assert not config_file(isolated_home).exists()


def test_init_with_passphrase_from_the_environment(run: Cli, isolated_home: Path) -> None:
    run("init", "--key-source", "passphrase", env={PASSPHRASE_VAR: "correct horse"})
    keyring = json.loads((data_dir(isolated_home) / "keyring.json").read_text())
    assert keyring["key_source"]["name"] == "passphrase"
    assert "salt" in keyring["key_source"]["params"]


def test_init_honours_the_global_config_option(run: Cli, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "conf.toml"
    run("--config", str(target), "init")
    assert target.exists()
    assert run("--config", str(target), "config", "path").stdout.strip() == str(target)


# --- set / get ----------------------------------------------------------------------------------


def test_set_from_stdin_then_get_prints_the_exact_value(initialised: Cli) -> None:
    result = initialised("set", "db/password", input=CANARY + "\n")
    assert "stored db/password" in result.stderr
    assert initialised("get", "db/password").stdout == CANARY  # newline stripped, none added


def test_set_keep_newline(initialised: Cli) -> None:
    initialised("set", "nl", "--keep-newline", input="line\n")
    assert initialised("get", "nl").stdout == "line\n"


def test_set_from_file_binary_round_trips_exact_bytes(initialised: Cli, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 4
    source = tmp_path / "blob.bin"
    source.write_bytes(blob)
    initialised("set", "blob", "--from-file", str(source))
    assert initialised("get", "blob").stdout_bytes == blob
    doc = json.loads(initialised("get", "blob", "--json").stdout)
    assert doc["encoding"] == "base64" and base64.b64decode(doc["value"]) == blob


def test_set_value_option_warns_about_ps(initialised: Cli) -> None:
    result = initialised("set", "flag", "--value", "not-the-canary")
    assert "ps" in result.stderr and "warning" in result.stderr
    assert initialised("get", "flag").stdout == "not-the-canary"


def test_set_value_and_from_file_together_is_a_usage_error(
    initialised: Cli, tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("x")
    initialised("set", "x", "--value", "v", "--from-file", str(tmp_path / "f"), code=2)


def test_set_with_metadata_and_get_json(initialised: Cli) -> None:
    initialised("set", "api", "-m", "owner=team-a", "-m", "ticket=SEC-1", input=CANARY)
    doc = json.loads(initialised("get", "api", "--json").stdout)
    assert doc["value"] == CANARY and doc["encoding"] == "utf-8"
    assert doc["backend"] == "file"
    assert doc["metadata"]["custom"] == {"owner": "team-a", "ticket": "SEC-1"}
    assert doc["metadata"]["current_version"] == 1


def test_bad_metadata_is_a_usage_error(initialised: Cli) -> None:
    initialised("set", "api", "-m", "novalue", input="x", code=2)


def test_get_an_older_version(initialised: Cli) -> None:
    initialised("set", "rotating", input="first")
    initialised("set", "rotating", input="second")
    assert initialised("get", "rotating").stdout == "second"
    assert initialised("get", "rotating", "--version", "1").stdout == "first"
    doc = json.loads(initialised("get", "rotating", "--version", "1", "--json").stdout)
    assert doc["version"] == 1 and doc["value"] == "first"
    result = initialised("get", "rotating", "--version", "9", code=exit_codes.NOT_FOUND)
    assert_one_line_error(result)


def test_get_works_without_init_on_the_zero_config_default(run: Cli) -> None:
    run("set", "zero", input="config")
    assert run("get", "zero").stdout == "config"


# --- errors and exit codes ----------------------------------------------------------------------


def test_missing_secret_exits_3_with_one_line_and_a_hint(initialised: Cli) -> None:
    result = initialised("get", "nope", code=exit_codes.NOT_FOUND)
    assert_one_line_error(result)
    assert "nope" in result.stderr and "secure-secrets list" in result.stderr


def test_verbose_adds_the_traceback(initialised: Cli) -> None:
    initialised("set", "present", input=CANARY)
    result = initialised("-v", "get", "nope", code=exit_codes.NOT_FOUND)
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_invalid_name_is_a_usage_error_and_is_not_echoed(initialised: Cli) -> None:
    result = initialised("get", "../" + CANARY, code=exit_codes.USAGE)
    assert_one_line_error(result)


def test_tampered_store_exits_6(initialised: Cli, isolated_home: Path) -> None:
    initialised("set", "tampered", input=CANARY)
    (target,) = (data_dir(isolated_home) / "store").glob("*.secret")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    result = initialised("get", "tampered", code=exit_codes.INTEGRITY)
    assert_one_line_error(result)


def test_missing_config_file_named_by_option_exits_5(run: Cli, tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "missing.toml"), "list", code=exit_codes.CONFIG)
    assert_one_line_error(result)
    assert "missing.toml" in result.stderr


def test_uninstalled_backend_exits_5_naming_what_to_install(initialised: Cli) -> None:
    result = initialised("--backend", "nosuch", "list", code=exit_codes.CONFIG)
    assert_one_line_error(result)
    assert "nosuch" in result.stderr


@pytest.mark.slow
def test_unreachable_backend_exits_7_without_its_token(run: Cli, isolated_home: Path) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text(
        f'[backends.vault]\nvault_url = "http://127.0.0.1:{port}"\nvault_token = "{CANARY}"\n'
    )
    assert_one_line_error(run("--backend", "vault", "get", "x", code=exit_codes.UNAVAILABLE))
    verbose = run("-v", "--backend", "vault", "get", "x", code=exit_codes.UNAVAILABLE)
    assert "Traceback" in verbose.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("SecretNotFoundError", 3),
        ("AccessDeniedError", 4),
        ("ConfigError", 5),
        ("BackendConfigurationError", 5),
        ("PluginNotFoundError", 5),
        ("PluginConflictError", 5),
        ("EncryptionError", 6),
        ("IntegrityError", 6),
        ("KeyNotAvailableError", 6),
        ("BackendUnavailableError", 7),
        ("InvalidSecretNameError", 2),
        ("AuditError", 1),
        ("SecretsError", 1),
    ],
)
def test_exit_code_table(error: str, code: int) -> None:
    from secrets_core import errors

    assert exit_codes.classify(getattr(errors, error)("message"))[0] == code


# --- delete / restore / list / history ----------------------------------------------------------


def test_delete_restore_and_purge(initialised: Cli) -> None:
    initialised("set", "temp", input="v")
    result = initialised("delete", "temp")
    assert "restore" in result.stderr
    initialised("get", "temp", code=exit_codes.NOT_FOUND)
    initialised("restore", "temp")
    assert initialised("get", "temp").stdout == "v"
    initialised("delete", "temp", "--purge")
    initialised("restore", "temp", code=exit_codes.NOT_FOUND)
    initialised("delete", "temp", code=exit_codes.NOT_FOUND)


def test_list_with_prefix_and_json(initialised: Cli) -> None:
    for name in ("app/db", "app/api", "other"):
        initialised("set", name, input="v")
    assert initialised("list").stdout.splitlines() == ["app/api", "app/db", "other"]
    assert initialised("list", "app/").stdout.splitlines() == ["app/api", "app/db"]
    assert json.loads(initialised("list", "--json", "app/").stdout) == ["app/api", "app/db"]
    assert initialised("list", "zzz").stdout == ""


def test_history_lists_versions_without_values(initialised: Cli) -> None:
    initialised("set", "h", input=CANARY)
    initialised("set", "h", input=CANARY + "2")
    result = initialised("history", "h")
    assert CANARY not in result.stdout
    assert "(current)" in result.stdout
    doc = json.loads(initialised("history", "h", "--json").stdout)
    assert [v["version"] for v in doc["versions"]] == [1, 2] and doc["current_version"] == 2


def test_history_needs_a_backend_with_metadata(initialised: Cli) -> None:
    result = initialised("--backend", "env", "history", "x", code=exit_codes.CONFIG)
    assert_one_line_error(result)
    assert "history" in result.stderr and "env" in result.stderr


def test_history_of_a_deleted_secret_says_so(initialised: Cli) -> None:
    initialised("set", "gone", input="v")
    initialised("delete", "gone")
    assert "deleted" in initialised("history", "gone").stdout


# --- rotate-key / change-passphrase -------------------------------------------------------------


def test_rotate_key_reports_counts_and_secrets_survive(
    initialised: Cli, isolated_home: Path
) -> None:
    for index in range(3):
        initialised("set", f"s{index}", input=f"value-{index}")
    result = initialised("rotate-key", "--keep-old-keys", "0")
    assert "file: 3 re-encrypted" in result.stdout
    assert "1 old key(s) retired" in result.stdout
    keyring = json.loads((data_dir(isolated_home) / "keyring.json").read_text())
    assert len(keyring["keys"]) == 1
    assert [initialised("get", f"s{i}").stdout for i in range(3)] == [
        "value-0", "value-1", "value-2",
    ]  # fmt: skip


def test_rotate_key_resumes_an_interrupted_rotation(initialised: Cli) -> None:
    from secrets_core.manager import SecretsManager

    initialised("set", "r", input="value")
    with SecretsManager() as manager:  # a rotation that "crashed" after its journal entry
        target, resumed = manager.assembly.key_manager().begin_rotation()
    assert not resumed
    result = initialised("rotate-key")
    assert "resumed" in result.stderr
    assert target in result.stdout
    assert initialised("get", "r").stdout == "value"


def test_change_passphrase(run: Cli) -> None:
    old, new = {PASSPHRASE_VAR: "old passphrase"}, {PASSPHRASE_VAR: "new passphrase"}
    run("init", "--key-source", "passphrase", env=old)
    run("set", "p", input=CANARY, env=old)
    result = run("change-passphrase", input="new passphrase\nnew passphrase\n", env=old)
    assert "passphrase changed" in result.stderr
    assert "new passphrase" not in result.output
    assert run("get", "p", env=new).stdout == CANARY
    assert_one_line_error(run("get", "p", env=old, code=exit_codes.INTEGRITY))


def test_change_passphrase_with_a_wrong_current_one_changes_nothing(run: Cli) -> None:
    good = {PASSPHRASE_VAR: "good passphrase"}
    run("init", "--key-source", "passphrase", env=good)
    run("set", "p", input="v", env=good)
    run(
        "change-passphrase", input="x1\nx1\n", env={PASSPHRASE_VAR: "wrong"},
        code=exit_codes.INTEGRITY,
    )  # fmt: skip
    assert run("get", "p", env=good).stdout == "v"


def test_change_passphrase_needs_the_passphrase_source(initialised: Cli) -> None:
    result = initialised("change-passphrase", input="a\na\n", code=exit_codes.CONFIG)
    assert "keyfile" in result.stderr


# --- export -------------------------------------------------------------------------------------

TRICKY = ["plain", "with space", "it's", 'dq"uote', "back\\slash", "multi\nline", "$HOME ${X}"]


def test_export_plaintext_requires_yes(initialised: Cli) -> None:
    initialised("set", "e", input=CANARY)
    result = initialised("export", code=exit_codes.USAGE)
    assert "--yes" in result.stderr and CANARY not in result.stdout


def test_export_dotenv_round_trips_through_python_dotenv(initialised: Cli) -> None:
    dotenv = pytest.importorskip("dotenv")
    for index, value in enumerate(TRICKY):
        initialised("set", f"app/v{index}", "--value", value)
    out = initialised("export", "--yes", "--prefix", "app/").stdout
    parsed = dotenv.dotenv_values(stream=io.StringIO(out), interpolate=False)
    assert parsed == {f"V{i}": value for i, value in enumerate(TRICKY)}


def test_export_json_keeps_names_and_base64_for_bytes(initialised: Cli, tmp_path: Path) -> None:
    (tmp_path / "b").write_bytes(b"\xff\x00")
    initialised("set", "bin", "--from-file", str(tmp_path / "b"))
    initialised("set", "db/pw", input="text")
    doc = json.loads(initialised("export", "--format", "json", "--yes").stdout)
    assert doc == {"bin": {"base64": base64.b64encode(b"\xff\x00").decode()}, "db/pw": "text"}


def test_export_dotenv_refuses_binary(initialised: Cli, tmp_path: Path) -> None:
    (tmp_path / "b").write_bytes(b"\xff\x00")
    initialised("set", "bin", "--from-file", str(tmp_path / "b"))
    initialised("export", "--yes", code=exit_codes.USAGE)


def test_export_ciphertext_holds_no_plaintext(initialised: Cli) -> None:
    initialised("set", "c", input=CANARY)
    doc = json.loads(initialised("export", "--ciphertext", "--format", "json").stdout)
    assert doc["format"] == "secure-secrets-ciphertext"
    token = base64.b64decode(doc["secrets"]["c"])
    assert CANARY.encode() not in token and len(token) > len(CANARY)
    dotenv_out = initialised("export", "--ciphertext").stdout
    assert "C='" in dotenv_out and CANARY not in dotenv_out


def test_export_collision_is_an_error(initialised: Cli) -> None:
    initialised("set", "a-b", input="1")
    initialised("set", "a_b", input="2")
    result = initialised("export", "--yes", code=exit_codes.USAGE)
    assert "a-b" in result.stderr and "a_b" in result.stderr


# --- plugins / config / audit -------------------------------------------------------------------


def test_plugins_table_and_json(run: Cli) -> None:
    out = run("plugins").stdout
    assert "secure-secrets-file" in out and "active" in out
    infos = {info["name"]: info for info in json.loads(run("plugins", "--json").stdout)}
    assert infos["file"]["status"] == "active"
    assert "secrets_register_backends" in infos["file"]["hooks"]
    assert {"name", "distribution", "version", "status", "hooks", "error"} <= set(infos["file"])


def test_plugins_shows_blocked(run: Cli) -> None:
    infos = json.loads(
        run("plugins", "--json", env={"SECURE_SECRETS_PLUGINS_BLOCK": "vault"}).stdout
    )
    assert {i["name"]: i["status"] for i in infos}["vault"] == "blocked"


def test_config_path_default_and_env(run: Cli, isolated_home: Path, tmp_path: Path) -> None:
    assert run("config", "path").stdout.strip() == str(config_file(isolated_home))
    other = tmp_path / "x.toml"
    assert run("config", "path", env={"SECURE_SECRETS_CONFIG": str(other)}).stdout.strip() == str(
        other
    )


def test_config_show_redacts_credentials(run: Cli, isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text(
        'default_backend = "file"\n'
        "[backends.vault]\n"
        'vault_url = "https://vault.example.com"\n'
        f'vault_token = "{CANARY}"\n'
        "[backends.thirdparty]\n"
        f'api_key = "{CANARY}"\n'
        "[key_source]\n"
        'name = "keyfile"\n'
        'path = { env = "MY_KEY_PATH" }\n'
    )
    for args in (("config", "show"), ("config", "show", "--json")):
        out = run(*args, env={"MY_KEY_PATH": CANARY}).stdout
        assert CANARY not in out
        assert "https://vault.example.com" in out
        assert "<redacted>" in out and "MY_KEY_PATH" in out
    doc = json.loads(run("config", "show", "--json").stdout)
    assert doc["backends"]["vault"]["vault_token"] == "<redacted>"
    assert doc["key_source"]["path"] == {"env": "MY_KEY_PATH"}


def test_config_show_output_is_valid_toml(run: Cli) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    doc = tomllib.loads(run("config", "show").stdout)
    assert doc["default_backend"] == "file" and doc["audit"]["sinks"] == ["jsonl"]


def test_config_validate_ok_and_problems(run: Cli, isolated_home: Path) -> None:
    assert "config OK" in run("config", "validate").stdout
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text(
        "[kdf]\n"
        'name = "argon2id"\n'
        "memory_kib = 1024\n"
        "[backends.file]\n"
        "max_versions = true\n"
        "[backends.vault]\n"
        'vault_token = { env = "UNSET_TOKEN_VARIABLE" }\n'
    )
    result = run("config", "validate", code=exit_codes.CONFIG)
    assert result.stderr.count("problem: ") == 3, result.stderr
    assert "memory_kib" in result.stderr and "UNSET_TOKEN_VARIABLE" in result.stderr
    assert "3 problem(s)" in result.stderr


def test_config_validate_syntax_error(run: Cli, isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text(f'default_backend = "{CANARY}\n')
    assert_one_line_error(run("config", "validate", code=exit_codes.CONFIG))


def test_audit_tail(initialised: Cli) -> None:
    initialised("set", "audited", input=CANARY)
    initialised("get", "audited")
    initialised("get", "missing", code=exit_codes.NOT_FOUND)
    out = initialised("audit", "tail", "-n", "3").stdout
    lines = out.splitlines()
    assert len(lines) == 3 and CANARY not in out
    assert "store" in lines[0] and "audited" in lines[0] and "success" in lines[0]
    assert "SecretNotFoundError" in lines[2]
    events = [
        json.loads(x) for x in initialised("audit", "tail", "--json", "-n", "2").stdout.splitlines()
    ]
    assert [e["operation"] for e in events] == ["retrieve", "retrieve"]


def test_audit_tail_without_events(run: Cli) -> None:
    result = run("audit", "tail")
    assert result.stdout == "" and "no audit events" in result.stderr


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_clean_install_exits_0(initialised: Cli) -> None:
    initialised("set", "d", input="v")
    result = initialised("doctor")
    assert "FAIL" not in result.stdout and "key source" in result.stdout


def test_doctor_reports_a_readable_key_file(initialised: Cli, isolated_home: Path) -> None:
    key = data_dir(isolated_home) / "master.key"
    key.chmod(0o644)
    result = initialised("doctor", code=1)
    assert f"chmod 600 {key}" in result.stdout
    assert "FAIL  key file" in result.stdout


def test_doctor_reports_an_open_data_dir(initialised: Cli, isolated_home: Path) -> None:
    data_dir(isolated_home).chmod(0o755)
    assert "chmod 700" in initialised("doctor", code=1).stdout


def test_doctor_checks_the_paths_every_configured_backend_declares(
    initialised: Cli, isolated_home: Path, tmp_path: Path
) -> None:
    """Backends tell doctor their paths (BackendSpec.paths): the file store where
    [backends.file] path puts it, and the env backend's env_file."""
    store, env_file = tmp_path / "elsewhere", tmp_path / "app.env"
    with config_file(isolated_home).open("a") as handle:
        handle.write(f'\n[backends.file]\npath = "{store}"\n')
        handle.write(f'[backends.env]\nenv_file = "{env_file}"\n')
    initialised("set", "d", input="v")
    initialised("--backend", "env", "set", "e", input="v")
    assert "ok    file store: " + str(store) in initialised("doctor").stdout
    store.chmod(0o755)
    env_file.chmod(0o644)
    result = initialised("doctor", code=1).stdout
    assert f"chmod 700 {store}" in result and f"chmod 600 {env_file}" in result
    assert "FAIL  env file" in result


def test_doctor_reports_weak_kdf_settings(initialised: Cli, isolated_home: Path) -> None:
    with config_file(isolated_home).open("a") as handle:
        handle.write('\n[kdf]\nname = "pbkdf2-sha256"\niterations = 1000\n')
    result = initialised("doctor", code=1)
    assert "FAIL  kdf settings" in result.stdout and "floor" in result.stdout


def test_doctor_reports_a_key_that_does_not_load(run: Cli) -> None:
    run("init", "--key-source", "passphrase", env={PASSPHRASE_VAR: "right one"})
    result = run("doctor", env={PASSPHRASE_VAR: "wrong one"}, code=1)
    assert "FAIL  key source" in result.stdout


def test_doctor_reports_an_unfinished_rotation(initialised: Cli) -> None:
    from secrets_core.manager import SecretsManager

    with SecretsManager() as manager:
        manager.assembly.key_manager().begin_rotation()
    assert "rotate-key" in initialised("doctor", code=1).stdout


def test_doctor_reports_a_broken_config(run: Cli, isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text("nonsense = 1\n")
    assert "FAIL  config" in run("doctor", code=1).stdout


# --- canary sweep -------------------------------------------------------------------------------


def test_no_verb_prints_the_value_where_it_should_not(initialised: Cli) -> None:
    """Every verb except get/export --yes/run: the canary appears in no output at all."""
    initialised("set", "canary", input=CANARY)
    for args in (
        ("list",), ("history", "canary"), ("rotate-key",), ("doctor",), ("config", "show"),
        ("config", "validate"), ("plugins",), ("audit", "tail", "-n", "50"),
        ("audit", "tail", "--json", "-n", "50"), ("export", "--ciphertext"),
        ("-v", "list"), ("-v", "get", "nope"), ("-v", "delete", "nope"),
    ):  # fmt: skip
        result = initialised(*args, code=exit_codes.NOT_FOUND if "nope" in args else 0)
        assert CANARY not in result.output, args


# --- helpers: variable names and masking --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prefix", "variable"),
    [
        ("db/password", "", "DB_PASSWORD"),
        ("api-key.v2", "", "API_KEY_V2"),
        ("app/db/url", "app/", "DB_URL"),
        ("app/db", "app", "DB"),
        ("9lives", "", "_9LIVES"),
    ],
)
def test_variable_names(name: str, prefix: str, variable: str) -> None:
    assert variable_name(name, prefix) == variable


def test_variable_collisions_name_both_secrets() -> None:
    with pytest.raises(exit_codes.CliError) as info:
        variable_map(["a.b", "a-b"])
    assert "a.b" in info.value.message and "a-b" in info.value.message
    assert info.value.exit_code == exit_codes.USAGE


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
def test_masker_masks_values_split_across_chunks(size: int) -> None:
    secret = b"s3cr3t-value"
    stream = b"before " + secret + b" middle s3cr3t " + secret + secret + b" end s3c"
    masker = Masker([secret, b"other"])
    out = b"".join(masker.feed(stream[i : i + size]) for i in range(0, len(stream), size))
    out += masker.flush()
    assert out == b"before " + MASK + b" middle s3cr3t " + MASK + MASK + b" end s3c"


def test_masker_ignores_empty_values() -> None:
    masker = Masker([b""])
    assert masker.feed(b"abc") + masker.flush() == b"abc"


def test_environment_untouched_by_in_process_verbs(initialised: Cli) -> None:
    before = dict(os.environ)
    initialised("set", "e", input=CANARY)
    initialised("get", "e")
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["get", "x"], (None, None, None, "x")),
        (
            ["--backend", "vault", "-q", "--config", "c.toml", "--profile", "prod", "get", "x"],
            ("vault", "c.toml", "prod", "x"),
        ),
        (["--backend=", "--profile=", "get", "x"], (None, None, None, "x")),
        (["--profile=dev", "get", "x"], (None, None, "dev", "x")),
        (["get", "--json", "x"], None),
        (["get", "x", "--version", "2"], None),
        (["-v", "get", "x"], None),
        (["set", "x"], None),
        (["get"], None),
        (["--backend"], None),
        ([], None),
    ],
)
def test_fast_path_takes_only_a_plain_get(argv: list[str], parsed: object) -> None:
    from secrets_core.cli.fast import parse_get

    assert parse_get(argv) == parsed


def test_set_refuses_an_empty_stdin_unless_allowed(initialised: Cli) -> None:
    result = initialised("set", "empty", input="", code=exit_codes.USAGE)
    assert "empty" in result.stderr
    initialised("get", "empty", code=exit_codes.NOT_FOUND)
    initialised("set", "empty", "--allow-empty", input="")
    assert initialised("get", "empty").stdout == ""


@pytest.mark.parametrize(
    "args", [("get", "--jsn", "x"), ("nosuchverb",), ("set",), ("get", "--version", "0", "x")]
)
def test_usage_errors_are_one_line_with_exit_2(run: Cli, args: tuple[str, ...]) -> None:
    result = run(*args, code=exit_codes.USAGE)
    assert_one_line_error(result)
    assert "--help" in result.stderr


def test_no_arguments_shows_the_help(run: Cli) -> None:
    result = run(code=2)
    assert "Commands:" in result.output and "error:" not in result.output


# --- audit verify, import-env, doctor on profiles ---------------------------------------------


def test_audit_verify_passes_then_reports_an_edited_line(initialised: Cli, isolated_home) -> None:
    initialised("set", "db", input=CANARY)
    initialised("get", "db")
    assert initialised("audit", "verify").output.startswith("ok: ")
    log = isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"retrieve"', '"list"')
    log.write_text("".join(lines))
    result = initialised("audit", "verify", code=6)
    assert "line 2" in result.stderr and "mac does not match" in result.stderr


def test_import_env_is_a_dry_run_unless_applied(initialised: Cli, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"API_TOKEN={CANARY}\n")
    dry = initialised("import-env", str(dotenv))
    assert "dry run" in dry.output and "API_TOKEN" in dry.output and CANARY not in dry.output
    initialised("get", "API_TOKEN", code=3)
    applied = initialised("import-env", str(dotenv), "--apply")
    assert CANARY not in applied.output
    assert initialised("get", "API_TOKEN").output == CANARY
    initialised("import-env", str(dotenv), "--rewrite", code=2)


def test_doctor_warns_when_profiles_share_a_key(initialised: Cli, isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.write_text(
        path.read_text()
        + '\n[profiles.qa]\ndata_dir = "/srv/shared"\n'
        + '[profiles.staging]\ndata_dir = "/srv/shared"\n'
    )
    result = initialised("doctor", code=1)
    assert "'qa' and 'staging' share keyring /srv/shared/keyring.json" in result.output


def test_profile_flag_selects_the_profile(initialised: Cli, isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.write_text(path.read_text() + "\n[profiles.dev]\n[profiles.prod]\n")
    initialised("--profile", "dev", "set", "db", input="dev-value")
    initialised("--profile", "prod", "set", "db", input="prod-value")
    assert initialised("--profile", "dev", "get", "db").stdout == "dev-value"
    assert initialised("--profile", "prod", "get", "db").stdout == "prod-value"
    initialised("get", "db", code=exit_codes.NOT_FOUND)  # no profile: the top-level store
    result = initialised("--profile", "qa", "get", "db", code=exit_codes.CONFIG)
    assert "qa" in result.stderr
    notes = initialised("--profile", "prod", "doctor").output
    assert "ok    profile: prod (profiles: dev, prod)" in notes


def test_doctor_reports_how_the_optional_features_are_configured(
    initialised: Cli, isolated_home: Path
) -> None:
    before = initialised("doctor").output
    assert "access policies: none defined" in before
    assert "alerts: off; audit sinks: jsonl" in before
    assert "dynamic secrets: no configured backend issues them" in before
    path = config_file(isolated_home)
    path.write_text(
        path.read_text()
        + '\n[policies.billing]\nread = ["billing/"]\nwrite = ["billing/invoices"]\n'
        + '\n[audit]\nsinks = ["jsonl", "alerts"]\n[audit.alerts]\nfailures_count = 3\n'
    )
    after = initialised("doctor").output
    assert "access policies: billing (read 1, write 1)" in after
    assert "alerts: on (failures_count=3); audit sinks: jsonl, alerts" in after


def test_set_on_a_dotenv_backend_without_a_file_prints_the_line_to_keep(initialised: Cli) -> None:
    """The env backend without env_file keeps the value in this process only: `set` prints
    the backend's own line (DotenvBackend.dotenv_line), which a later process reads."""
    result = initialised("--backend", "env", "set", "api", input=CANARY)
    line = result.stdout.strip()
    variable, _, token = line.partition("=")
    assert variable.endswith("api") and token.startswith("sse1:") and CANARY not in line
    assert "writes no file" in result.stderr
    keep = json.loads(initialised("--backend", "env", "set", "api", "--json", input="v2").stdout)
    assert keep["keep"].startswith(variable + "=")
    os.environ[variable] = token
    assert initialised("--backend", "env", "get", "api").stdout == CANARY
    assert "keep" not in json.loads(initialised("set", "f", "--json", input="v").stdout)
