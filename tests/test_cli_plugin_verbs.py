"""Plugin verbs (``secrets_register_commands``): listed by ``--help`` without importing them,
run when named, never loaded by ``get``, and a verb named like a core verb is reported with
both names while the core verb runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PLUGIN = '''
from secrets_core import hookimpl
from secrets_core.plugin import CommandSpec


@hookimpl
def secrets_register_commands():
    return [
        CommandSpec(name="hello", command="fakeverbs_cli:hello_cmd", help="Say hello."),
        CommandSpec(name="run", command="fakeverbs_cli:run_cmd", help="A clash."),
    ]
'''

COMMANDS = '''
import click

from secrets_core.cli.state import get_state


@click.command("hello")
@click.argument("who")
def hello_cmd(who):
    """Say hello."""
    click.echo(f"hello {who} from backend {get_state().backend_name()}")


@click.command("run")
def run_cmd():
    click.echo("the plugin's run ran")
'''

RUN_AND_REPORT = (  # at exit: the fast `get` ends with os._exit, after the atexit handlers
    "import atexit, json, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES' + json.dumps(sorted(sys.modules))))\n"
    "from secrets_core.cli import main\n"
    "main()\n"
)


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A distribution ``fakeverbs`` (dist-info and modules) in a directory for PYTHONPATH."""
    site = tmp_path / "site"
    info = site / "fakeverbs-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeverbs\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[secrets_core]\nfakeverbs = fakeverbs_plugin\n")
    (site / "fakeverbs_plugin.py").write_text(PLUGIN)
    (site / "fakeverbs_cli.py").write_text(COMMANDS)
    return site


def cli(site: Path, *args: str, stdin: str = "") -> tuple[int, str, str, set[str]]:
    """(exit code, stdout, stderr, modules loaded) of the CLI in a new process."""
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    stderr, _, modules = result.stderr.rpartition("\nMODULES")
    return result.returncode, result.stdout, stderr, set(json.loads(modules))


def test_help_lists_the_plugin_verb_without_importing_it(plugin_path: Path) -> None:
    code, out, err, modules = cli(plugin_path, "--help")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.strip().startswith("hello"))
    assert "Say hello." in line and "(fakeverbs)" in line
    assert "fakeverbs_plugin" in modules  # listing discovers every plugin
    assert "fakeverbs_cli" not in modules  # but imports no verb


def test_the_plugin_verb_runs(plugin_path: Path) -> None:
    code, out, err, modules = cli(plugin_path, "--backend", "file", "hello", "world")
    assert code == 0, err
    assert out == "hello world from backend file\n"
    assert "fakeverbs_cli" in modules


def test_a_clash_with_a_core_verb_names_both_and_the_core_verb_runs(plugin_path: Path) -> None:
    code, out, err, _ = cli(plugin_path, "--help")
    assert code == 0
    clash = next(line for line in err.splitlines() if "'run'" in line)
    assert "fakeverbs" in clash and "secure-secrets" in clash and "core verb runs" in clash
    assert "A clash" not in out
    code, out, err, modules = cli(plugin_path, "run", "--", sys.executable, "-c", "print('core')")
    assert code == 0, err
    assert out == "core\n" and "fakeverbs_cli" not in modules


def test_get_loads_neither_the_plugin_nor_its_verbs(plugin_path: Path) -> None:
    assert cli(plugin_path, "init")[0] == 0
    assert cli(plugin_path, "set", "api-key", stdin="k-123")[0] == 0
    cli(plugin_path, "--help")  # a full discovery, which refreshes the plugin index
    for args in (("get", "api-key"), ("get", "--json", "api-key")):
        code, out, err, modules = cli(plugin_path, *args)
        assert code == 0, err
        assert "k-123" in out
        assert not modules & {"fakeverbs_plugin", "fakeverbs_cli"}, args


def test_an_unknown_verb_is_still_no_such_command(plugin_path: Path) -> None:
    code, _out, err, _ = cli(plugin_path, "nosuchverb")
    assert code == 2 and "No such command" in err
