"""What a new user meets (issue 20): a CLI that scripts well (one JSON shape per verb,
config show loadable, exit 130 on Ctrl-C, prompt errors and empty values in the CLI's own
style), help that is enough without docs/, silent completion, errors that point the right
way, a maximum value size and rotation progress off a terminal. In process through click's
CliRunner, except where a real process or terminal is the point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from secrets_core.cli.app import COMMANDS, cli
from secrets_core.cli.exitcodes import CONFIG, INTERRUPTED, USAGE
from secrets_core.errors import PluginNotFoundError, SecretTooLargeError
from secrets_core.manager import SecretsManager
from secrets_core.secret import MAX_VALUE_BYTES

MAIN = "from secrets_core.cli import main; main()"
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, input: str | bytes | None = None, code: int = 0, **env: str | None) -> Result:
    result = CliRunner().invoke(
        cli, list(args), input=input, env=env or None, catch_exceptions=False,
        prog_name="secure-secrets",
    )  # fmt: skip
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def as_json(result: Result) -> object:
    return json.loads(result.stdout)


@pytest.fixture
def store() -> None:
    run("init", "--key-source", "keyfile")
    run("set", "db/password", input="pw-1")


# --- 3. scriptable: one JSON shape per verb -----------------------------------------------------


def test_set_delete_restore_print_json(store: None) -> None:
    stored = as_json(run("set", "api", "--json", input="v"))
    assert stored == {"name": "api", "backend": "file", "version": 1,
                      "event_id": stored["event_id"]}  # type: ignore[index]  # fmt: skip
    deleted = as_json(run("delete", "api", "--json"))
    assert deleted["restorable"] is True and deleted["purged"] is False  # type: ignore[index]
    restored = as_json(run("restore", "api", "--json"))
    assert set(restored) == {"name", "backend", "event_id"}  # type: ignore[arg-type]
    purged = as_json(run("delete", "--purge", "api", "--json"))
    assert purged["purged"] is True and purged["restorable"] is False  # type: ignore[index]


def test_rotate_key_prints_json(store: None) -> None:
    doc = as_json(run("rotate-key", "--json"))
    assert doc["backends"]["file"] == {"rotated": 1, "skipped": 0, "failed": 0}  # type: ignore[index]
    assert set(doc) == {"new_key_id", "retired_key_ids", "resumed", "backends", "event_id"}  # type: ignore[arg-type]


def test_doctor_prints_json_and_keeps_its_exit_code(store: None, isolated_home: Path) -> None:
    doc = as_json(run("doctor", "--json"))
    assert doc["ok"] is True and doc["problems"] == 0  # type: ignore[index]
    assert {"check", "ok", "problem", "fix", "note"} <= set(doc["checks"][0])  # type: ignore[index]
    (isolated_home / "data" / "secure-secrets" / "master.key").chmod(0o644)
    bad = as_json(run("doctor", "--json", code=1))
    assert bad["ok"] is False and any(  # type: ignore[index]
        c["check"] == "key file" and "chmod 600" in c["fix"]
        for c in bad["checks"]  # type: ignore[index]
    )


def test_config_validate_and_path_print_json(isolated_home: Path) -> None:
    assert as_json(run("config", "validate", "--json"))["ok"] is True  # type: ignore[index]
    config = isolated_home / "bad.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('no_such_key = 1\ncipher = "nosuch"\n')
    doc = as_json(run("--config", str(config), "config", "validate", "--json", code=CONFIG))
    assert doc["ok"] is False and doc["problems"] and doc["config_file"] == str(config)  # type: ignore[index]
    assert as_json(run("config", "path", "--json"))["exists"] is False  # type: ignore[index]


def test_init_and_import_env_print_json(isolated_home: Path, tmp_path: Path) -> None:
    doc = as_json(run("init", "--json"))
    assert doc["created"] is True and doc["key_source"] == "keyfile"  # type: ignore[index]
    dotenv = tmp_path / ".env"
    dotenv.write_text("API_KEY=plain-value\n")
    report = as_json(run("import-env", str(dotenv), "--json"))
    assert report["dry_run"] is True  # type: ignore[index]
    assert report["entries"][0]["key"] == "API_KEY"  # type: ignore[index]
    assert "plain-value" not in json.dumps(report)


def test_every_verb_that_prints_takes_json() -> None:
    """Every verb (and sub-verb) has --json, except those whose output is the data itself in
    another form (export: --format json; completion: a shell script; run: the command's)."""
    import click

    exempt = {"export", "completion", "run", "change-passphrase"}
    missing = []
    for verb in COMMANDS:
        command = cli.get_command(click.Context(cli), verb)
        assert command is not None
        subcommands = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subcommands:
            if verb not in exempt and "--json" not in {o for p in sub.params for o in p.opts}:
                missing.append(f"{verb} {sub.name}")
    assert not missing, missing


def test_config_show_output_loads_as_a_config_file(isolated_home: Path, tmp_path: Path) -> None:
    run("init")
    shown = tmp_path / "shown.toml"
    shown.write_text(run("config", "show").stdout)
    assert "config OK" in run("--config", str(shown), "config", "validate").stdout


def test_an_empty_value_is_refused_with_a_reason(store: None) -> None:
    for args, given in ((("--value", ""), None), ((), "")):
        result = run("set", "empty", *args, input=given, code=USAGE)
        assert "error: " in result.stderr and "empty value" in result.stderr
        assert "--allow-empty" in result.stderr
    run("set", "empty", "--allow-empty", input="")
    assert run("get", "empty").stdout == ""


# --- 4. help and completion -------------------------------------------------------------------


def test_help_is_enough_without_the_docs_directory() -> None:
    import click

    top = run("--help").stdout
    assert "Exit codes:" in top and "130" in top and "completion" in top
    for verb in COMMANDS:
        command = cli.get_command(click.Context(cli), verb)
        assert command is not None
        subs = list(command.commands) if isinstance(command, click.Group) else [None]
        for sub in subs:
            args = [verb, sub] if sub else [verb]
            assert "docs/" not in run(*args, "--help").stdout, args
    assert "docs/" not in top


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script(shell: str) -> None:
    assert "_SECURE_SECRETS_COMPLETE" in run("completion", shell).stdout


@pytest.mark.slow
def test_completing_names_writes_no_audit_event_and_no_warning(
    store: None, isolated_home: Path
) -> None:
    log = isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    before = log.read_text()
    env = dict(os.environ, _SECURE_SECRETS_COMPLETE="bash_complete",
               COMP_WORDS="secure-secrets get db/", COMP_CWORD="2")  # fmt: skip
    for variable in ("SECURE_SECRETS_KEK", "SECURE_SECRETS_PASSPHRASE"):
        env.pop(variable, None)
    result = subprocess.run([sys.executable, "-c", MAIN], env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert "db/password" in result.stdout
    assert result.stderr == ""
    assert log.read_text() == before


# --- 3. Ctrl-C and prompts on a real terminal -------------------------------------------------


def _prompting_set(pexpect: Any) -> Any:
    """`secure-secrets set pw` on a terminal, at its first prompt."""
    run("init")
    child = pexpect.spawn(sys.executable, ["-c", MAIN, "set", "pw"], env=dict(os.environ),
                          timeout=60, encoding="utf-8", use_poll=True)  # fmt: skip
    child.expect("Value for pw: ")
    return child


@pytest.mark.slow
def test_ctrl_c_at_a_prompt_exits_130() -> None:
    pexpect = pytest.importorskip("pexpect")
    child = _prompting_set(pexpect)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == INTERRUPTED, child.before
    assert "error: interrupted" in str(child.before)


@pytest.mark.slow
def test_sigint_while_a_verb_waits_exits_130() -> None:
    """`set` waiting on a stdin that never ends, interrupted as Ctrl-C would."""
    run("init")
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "set", "pw"], stdin=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    import time

    time.sleep(3)  # started and reading stdin (a later SIGINT is the same KeyboardInterrupt)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED, stderr
    assert "error: interrupted" in stderr


@pytest.mark.slow
def test_prompt_errors_use_the_error_style() -> None:
    pexpect = pytest.importorskip("pexpect")
    child = _prompting_set(pexpect)
    child.sendline("")
    child.expect("error: the value is empty")
    child.expect("Value for pw: ")
    child.sendline("one")
    child.expect("Repeat for confirmation: ")
    child.sendline("two")
    child.expect("error: the two entries do not match")
    child.expect("Value for pw: ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert "Error:" not in str(child.before)


# --- 6. errors that point the right way ---------------------------------------------------------


def test_a_missing_kek_for_an_existing_keyring_does_not_suggest_a_new_key() -> None:
    kek = "A" * 43 + "="
    run("init", "--key-source", "env", SECURE_SECRETS_KEK=kek)
    run("set", "x", input="v", SECURE_SECRETS_KEK=kek)
    result = run("get", "x", SECURE_SECRETS_KEK=None, code=6)
    assert "SECURE_SECRETS_KEK is not set" in result.stderr
    assert "urandom" not in result.stderr and "created with" in result.stderr


def test_env_set_without_an_env_file_prints_the_line_to_keep(store: None) -> None:
    result = run("--backend", "env", "set", "token", input="env-value")
    line = result.stdout.strip()
    assert line.startswith("SECURE_SECRET_") and "env-value" not in line
    assert "stored" not in result.stderr and "[backends.env]" in result.stderr
    variable, _, value = line.partition("=")
    assert run("--backend", "env", "get", "token", **{variable: value}).stdout == "env-value"


def test_config_validate_is_hinted_only_where_it_helps(store: None, tmp_path: Path) -> None:
    for args in (("restore", "x"), ("get", "--version", "1", "x")):
        result = run("--backend", "env", *args, code=CONFIG)
        assert "config validate" not in result.stderr and "--backend file" in result.stderr
    dotenv = tmp_path / ".env"
    dotenv.write_text("NOT A LINE\n")
    result = run("import-env", str(dotenv), code=CONFIG)
    assert "line 1" in result.stderr and "config validate" not in result.stderr


def test_doctor_names_the_distribution_of_a_missing_plugin(store: None) -> None:
    doc = as_json(run("doctor", "--json", code=1, SECURE_SECRETS_PLUGINS_BLOCK="fernet"))
    fixes = " ".join(c["fix"] for c in doc["checks"] if not c["ok"])  # type: ignore[index]
    assert "pip install secure-secrets-fernet" in fixes
    assert "raise the [kdf] parameters" not in fixes


def test_export_names_variables_by_one_rule_with_and_without_ciphertext(store: None) -> None:
    plain = run("export", "--yes", "--prefix", "db/").stdout
    sealed = run("export", "--ciphertext", "--prefix", "db/").stdout
    assert plain.startswith("PASSWORD=")
    assert "\nPASSWORD=" in sealed and "DB_PASSWORD" not in sealed


def test_install_hint_works_from_an_index_and_from_a_checkout() -> None:
    from secrets_core.plugin import PluginPolicy

    policy = PluginPolicy(block=frozenset({"file"}))
    with (
        SecretsManager(plugin_policy=policy) as blocked,
        pytest.raises(PluginNotFoundError) as raised,
    ):
        blocked.registry.lookup("backend", "file")
    message = str(raised.value)
    assert "pip install secure-secrets-file" in message
    assert "scripts/build-wheelhouse" in message
    assert "pip install --find-links dist secure-secrets-file" in message
    assert os.access(ROOT / "scripts" / "build-wheelhouse", os.X_OK)


# --- 8. big values and long operations ----------------------------------------------------------


def test_a_value_over_the_maximum_is_refused_with_a_typed_error(isolated_home: Path) -> None:
    with SecretsManager() as manager:
        manager.store_secret("at-limit", b"x" * MAX_VALUE_BYTES)
        with pytest.raises(SecretTooLargeError) as raised:
            manager.store_secret("big", b"x" * (MAX_VALUE_BYTES + 1))
        with pytest.raises(SecretTooLargeError):
            manager.store_secret("big", "é" * (MAX_VALUE_BYTES // 2 + 1))  # 2 bytes in UTF-8
        assert "big" not in manager.list_secrets()
    assert "4 MiB" in str(raised.value)


def test_the_cli_refuses_a_big_value_without_reading_it_all(store: None) -> None:
    result = run("set", "big", input=b"x" * (MAX_VALUE_BYTES + 10), code=USAGE)
    assert result.stderr.startswith("error: ") and "4 MiB" in result.stderr


def test_rotate_key_off_a_terminal_prints_progress_lines(store: None) -> None:
    for index in range(3):
        run("set", f"s{index}", input="v")
    result = run("rotate-key", "--progress-every", "0")
    lines = [line for line in result.stderr.splitlines() if line.startswith("rotate-key: ")]
    assert lines[-1] == "rotate-key: file 4/4 re-encrypted" and len(lines) == 4
    quiet = run("-q", "rotate-key", "--progress-every", "0")
    assert "rotate-key:" not in quiet.stderr


# --- 2. one truth in the docs -------------------------------------------------------------------

DOCS = ROOT / "docs"


def _distributions() -> list[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    projects = [ROOT, *sorted((ROOT / "plugins").iterdir()), *sorted((ROOT / "contrib").iterdir())]
    return [
        tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
        for project in projects
        if (project / "pyproject.toml").exists()
    ]


def test_the_status_of_each_component_is_in_one_place() -> None:
    status = (DOCS / "status.md").read_text()
    for distribution in _distributions():
        assert f"`{distribution}`" in status, distribution
    for page in ("README.md", "docs/plugins.md", "docs/getting-started.md", "docs/index.md"):
        assert "status.md" in (ROOT / page).read_text(), page
    for stale in ("not usable yet", "registered only", "verbatim", "seed configuration"):
        for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
            assert stale not in page.read_text(), (page.name, stale)


def test_plugins_takes_minus_v_as_documented() -> None:
    assert "provides:" in run("plugins", "-v").stdout


def test_the_install_docs_use_the_wheelhouse() -> None:
    containers = (DOCS / "containers.md").read_text()
    assert "--find-links /wheels" in containers and "COPY dist/" in containers
    started = (DOCS / "getting-started.md").read_text()
    assert "scripts/build-wheelhouse" in started
    assert "pip install --find-links dist 'secure-secrets[all]'" in started


# --- 1. installable by the names we print -------------------------------------------------------


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin"


def _pip(bindir: Path, *args: str, cwd: Path) -> None:
    result = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", *args],
                            cwd=cwd, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def _home(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRETS_")}
    env.update({f"XDG_{kind}_HOME": str(home / kind.lower())
                for kind in ("CONFIG", "DATA", "STATE", "CACHE")})  # fmt: skip
    home.mkdir(exist_ok=True)
    return env


def _quickstart(bindir: Path, home: Path) -> str:
    result = subprocess.run(
        [str(bindir / "python"), str(DOCS / "examples" / "quickstart.py")], cwd=home,
        env=_home(home), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_wheelhouse_installs_every_name_we_print(tmp_path: Path) -> None:
    """scripts/build-wheelhouse, then `pip install --find-links dist` by the documented names
    into fresh venvs (third-party dependencies from the configured index), then the quickstart;
    and the checkout half of the install hint is a command that works."""
    built = subprocess.run([str(ROOT / "scripts" / "build-wheelhouse"), str(tmp_path / "dist")],
                           env=dict(os.environ, PYTHON=sys.executable), capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheels = {p.name.split("-")[0] for p in (tmp_path / "dist").glob("*.whl")}
    assert wheels == {name.replace("-", "_") for name in _distributions()}

    everything = _venv(tmp_path / "all")
    _pip(everything, "--find-links", "dist", "secure-secrets[all]", cwd=tmp_path)
    assert "matches: True" in _quickstart(everything, tmp_path / "home-all")

    subset = _venv(tmp_path / "subset")
    _pip(subset, "--find-links", "dist", "secure-secrets", "secure-secrets-fernet", cwd=tmp_path)
    missing = subprocess.run([str(subset / "secure-secrets"), "list"], capture_output=True,
                             env=_home(tmp_path / "home-subset"), text=True,
                             timeout=120)  # fmt: skip
    assert missing.returncode == CONFIG
    command = missing.stderr.split("from a source checkout: scripts/build-wheelhouse, then ")[1]
    args = command.split(")")[0].split()
    assert args[:2] == ["pip", "install"], command
    _pip(subset, *args[2:], cwd=tmp_path)  # the hint, run where the wheelhouse is
    assert "matches: True" in _quickstart(subset, tmp_path / "home-subset")
