"""`secure-secrets run` with real processes: exit codes, signals, environment isolation,
output masking; and the console script itself (completion, cold-start imports)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from secrets_core.cli.app import cli

CANARY = "canary-run-5d1e-do-not-print"
MAIN = "from secrets_core.cli import main; main()"
PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def secure_secrets(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """The CLI in a new process, with the isolated home's environment."""
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        input=input,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        timeout=60,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def store() -> None:
    assert secure_secrets("init").returncode == 0
    for name, value in (("db/password", CANARY), ("api-key", "k-123"), ("app/token", "t-456")):
        assert secure_secrets("set", name, input=value.encode()).returncode == 0


def child_env(*run_args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = secure_secrets("run", *run_args, "--", sys.executable, "-c", PRINT_ENV, env=env)
    assert result.returncode == 0, result.stderr
    assert CANARY.encode() not in result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_child_gets_every_secret_under_its_variable(store: None) -> None:
    env = child_env()
    assert env["DB_PASSWORD"] == CANARY
    assert env["API_KEY"] == "k-123"
    assert env["APP_TOKEN"] == "t-456"
    assert env["PATH"] == os.environ["PATH"]  # the rest of the environment is inherited


@pytest.mark.slow
def test_only_and_prefix_select_secrets(store: None) -> None:
    env = child_env("--only", "api-key")
    assert env["API_KEY"] == "k-123" and "DB_PASSWORD" not in env
    env = child_env("--prefix", "app/")
    assert env["TOKEN"] == "t-456" and "API_KEY" not in env and "APP_TOKEN" not in env


@pytest.mark.slow
def test_missing_only_secret_exits_3(store: None) -> None:
    result = secure_secrets("run", "--only", "nope", "--", "true")
    assert result.returncode == 3 and result.stderr.startswith(b"error: ")


@pytest.mark.slow
def test_exit_code_propagates(store: None) -> None:
    result = secure_secrets("run", "--", sys.executable, "-c", "import sys; sys.exit(42)")
    assert result.returncode == 42
    assert secure_secrets("run", "--", "true").returncode == 0


@pytest.mark.slow
def test_killed_child_gives_128_plus_signal(store: None) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert secure_secrets("run", "--", sys.executable, "-c", code).returncode == 128 + 9


@pytest.mark.slow
def test_command_not_found_exits_127(store: None) -> None:
    result = secure_secrets("run", "--", "/nonexistent/command-xyz")
    assert result.returncode == 127 and b"command not found" in result.stderr


@pytest.mark.slow
def test_child_arguments_are_passed_untouched(store: None) -> None:
    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    result = secure_secrets("run", "--", sys.executable, "-c", code, "--only", "-v", "x y")
    assert json.loads(result.stdout) == ["--only", "-v", "x y"]


@pytest.mark.slow
def test_key_material_is_not_passed_unless_asked(store: None) -> None:
    env = dict(os.environ, SECURE_SECRETS_KEK="a2V5", SECURE_SECRETS_PASSPHRASE="pass")
    child = child_env(env=env)
    assert "SECURE_SECRETS_KEK" not in child and "SECURE_SECRETS_PASSPHRASE" not in child
    child = child_env("--pass-key-env", env=env)
    assert child["SECURE_SECRETS_KEK"] == "a2V5" and child["SECURE_SECRETS_PASSPHRASE"] == "pass"


@pytest.mark.slow
def test_a_custom_passphrase_variable_is_not_passed(isolated_home: Path) -> None:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[key_source]\nname = "passphrase"\nvariable = "MY_APP_PASS"\n')
    env = dict(os.environ, MY_APP_PASS="custom passphrase")
    assert secure_secrets("set", "x", input=b"v", env=env).returncode == 0
    child = child_env(env=env)
    assert child["X"] == "v" and "MY_APP_PASS" not in child


@pytest.mark.slow
def test_parent_environment_is_unchanged(store: None) -> None:
    before = dict(os.environ)
    result = CliRunner().invoke(cli, ["run", "--", sys.executable, "-c", "pass"])
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    after = dict(os.environ)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, changed
    assert "DB_PASSWORD" not in os.environ


@pytest.mark.slow
def test_mask_replaces_values_in_stdout_and_stderr(store: None) -> None:
    code = (
        "import os, sys\n"
        "v = os.environ['DB_PASSWORD']\n"
        "for ch in 'pw=' + v + '\\n':\n"
        "    sys.stdout.write(ch); sys.stdout.flush()\n"
        "sys.stderr.write('err ' + v + ' and ' + os.environ['API_KEY'] + '\\n')\n"
    )
    result = secure_secrets("run", "--mask", "--", sys.executable, "-c", code)
    assert result.returncode == 0
    assert result.stdout == b"pw=*****\n"
    assert result.stderr == b"err ***** and *****\n"
    unmasked = secure_secrets("run", "--", sys.executable, "-c", code)
    assert CANARY.encode() in unmasked.stdout  # without --mask the child's output is its own


@pytest.mark.slow
def test_collision_is_an_error_before_anything_runs(store: None, tmp_path: Path) -> None:
    assert secure_secrets("set", "api_key", input=b"other").returncode == 0
    marker = tmp_path / "ran"
    result = secure_secrets("run", "--", "touch", str(marker))
    assert result.returncode == 2 and b"api-key" in result.stderr and b"api_key" in result.stderr
    assert not marker.exists()


def _start_waiting_child(tmp_path: Path, signum: int) -> tuple[subprocess.Popen[bytes], Path]:
    ready, got = tmp_path / "ready", tmp_path / "got"
    code = (
        "import signal, sys, time, pathlib\n"
        f"def handler(n, f):\n"
        f"    pathlib.Path({str(got)!r}).write_text(str(n)); sys.exit(40 + n)\n"
        f"signal.signal({int(signum)}, handler)\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", MAIN, "run", "--", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: signals come only from us
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "child did not start"
        time.sleep(0.05)
    return proc, got


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_are_forwarded_to_the_child(store: None, tmp_path: Path, signum: int) -> None:
    proc, got = _start_waiting_child(tmp_path, signum)
    proc.send_signal(signum)  # to the CLI process only, not its group
    _out, err = proc.communicate(timeout=30)
    assert got.read_text() == str(int(signum))
    assert proc.returncode == 40 + signum, err


# --- the console script -------------------------------------------------------------------------


@pytest.mark.slow
def test_bash_completion_script_and_name_completion(store: None) -> None:
    env = dict(os.environ, _SECURE_SECRETS_COMPLETE="bash_source")
    script = secure_secrets(env=env)
    assert script.returncode == 0 and b"_SECURE_SECRETS_COMPLETE=bash_complete" in script.stdout
    env = dict(
        os.environ,
        _SECURE_SECRETS_COMPLETE="bash_complete",
        COMP_WORDS="secure-secrets get ap",
        COMP_CWORD="2",
    )
    completed = secure_secrets(env=env)
    assert completed.stdout.decode().split() == ["plain,api-key", "plain,app/token"]


@pytest.mark.slow
def test_get_imports_no_unused_plugin_dependency(store: None) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", MAIN, "get", "api-key"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "k-123"
    modules = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    # Plugin modules register (cheaply); their heavy dependencies must not be imported.
    assert not modules & {"hvac", "requests", "urllib3", "dotenv", "boto3"}


def loaded_modules(*args: str) -> set[str]:
    code = (  # at exit: the fast `get` ends with os._exit, after the atexit handlers
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))\n"
        "from secrets_core.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )
    return set(json.loads(result.stderr[result.stderr.index("[") :]))


@pytest.mark.slow
def test_plain_get_does_not_import_click(store: None) -> None:
    loaded = loaded_modules("get", "api-key")
    assert "click" not in loaded and "secrets_core.cli.app" not in loaded
    assert not loaded & {"hvac", "requests", "urllib3"}


@pytest.mark.slow
def test_other_verbs_import_only_their_own_module(store: None) -> None:
    loaded = loaded_modules("get", "--json", "api-key")
    assert {"click", "secrets_core.cli.values"} <= loaded
    assert not loaded & {"secrets_core.cli.run", "secrets_core.cli.doctor", "hvac", "requests"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("get", "api-key"),
        ("get", "db/password"),
        ("-q", "get", "api-key"),
        ("--backend", "file", "get", "api-key"),
        ("--backend=file", "get", "api-key"),
        ("get", "missing"),
        ("get", "../bad"),
        ("--backend", "nosuch", "get", "api-key"),
        ("--config", "/nonexistent/config.toml", "get", "api-key"),
        ("--backend", "env", "get", "api-key"),
    ],
)
def test_fast_get_behaves_exactly_like_the_click_verb(store: None, args: tuple[str, ...]) -> None:
    fast = secure_secrets(*args)
    slow = CliRunner().invoke(cli, list(args), prog_name="secure-secrets")
    assert (fast.returncode, fast.stdout, fast.stderr.decode()) == (
        slow.exit_code,
        slow.stdout_bytes,
        slow.stderr,
    )


@pytest.mark.slow
def test_value_never_on_stderr_of_failing_run(store: None) -> None:
    result = secure_secrets("-v", "run", "--only", "db/password", "--", "/nonexistent/x")
    assert result.returncode == 127
    assert CANARY.encode() not in result.stderr + result.stdout


@pytest.mark.slow
def test_get_loads_neither_pluggy_nor_dataclasses_nor_other_plugins(
    store: None,
) -> None:
    loaded = loaded_modules("get", "api-key")  # the installed metadata names its plugins
    heavy = {"pluggy", "inspect", "dataclasses", "importlib.metadata", "filelock", "click"}
    heavy |= {"logging", "uuid", "socket"}
    assert not loaded & heavy, loaded & heavy
    assert "secure_secrets_vault.plugin" not in loaded, "only the plugins get uses are loaded"


@pytest.mark.slow
def test_run_with_a_policy_passes_only_what_it_grants(store: None, isolated_home: Path) -> None:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    config.write_text(config.read_text() + '\n[policies.app]\nread = ["app/", "api-key"]\n')
    env = child_env("--policy", "app")
    assert env["APP_TOKEN"] == "t-456" and env["API_KEY"] == "k-123"
    assert "DB_PASSWORD" not in env and CANARY not in json.dumps(env)
    denied = secure_secrets("run", "--policy", "app", "--only", "db/password", "--", "true")
    assert denied.returncode == 4, denied.stderr  # access denied, before anything runs
    assert b"may not read secret 'db/password'" in denied.stderr
    assert CANARY.encode() not in denied.stdout + denied.stderr
    unknown = secure_secrets("run", "--policy", "nope", "--", "true")
    assert unknown.returncode == 5 and b"no access policy named 'nope'" in unknown.stderr


def test_a_logger_is_created_on_first_use_and_is_the_logging_logger() -> None:
    import logging

    from secrets_core.lazylog import get_logger

    lazy = get_logger("secrets_core.test-lazy")
    real = logging.getLogger("secrets_core.test-lazy")
    real.setLevel(logging.ERROR)
    assert lazy.getEffectiveLevel() == logging.ERROR
    assert lazy.handlers is real.handlers
    assert "secrets_core.test-lazy" in repr(lazy)
