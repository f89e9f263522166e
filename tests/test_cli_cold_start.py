"""The cold ``secure-secrets get``: what it must not import, so that a start-up gain cannot
silently regress (its time is measured against its floor by benchmarks/bench_cli.py, never
asserted here), and the quick exit that ends it, which must look like a normal exit: the same
output, exit code, ``atexit`` handlers, and waiting for running threads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from secure_secrets import SecureSecretsManager

pytestmark = pytest.mark.slow

#: Never imported by a plain ``get`` of the default store: the click CLI and its verbs, pluggy
#: and the full plugin discovery, importlib.metadata (and the email package under it), the
#: dependencies of plugins that are not used, .env handling, references, profiles,
#: logging, threading and unicodedata (for passphrases only), getpass and termios (for
#: prompts only: the audit actor reads the login variables and pwd), key rotation, re-keying
#: and scoped handles, the audit verifier and alerts sink, the ``BackendType`` enum (for
#: applications), and (off a terminal) the "waiting for..." line. (importlib
#: is left out: this venv's editable installs import it at start-up, a user's install does not.)
MUST_NOT_IMPORT = {
    "click",
    "pluggy",
    "importlib.metadata",
    "email",
    "hvac",
    "requests",
    "urllib3",
    "dotenv",
    "logging",
    "threading",
    "secrets_core.cli.app",
    "secrets_core.plugin._manager",
    "secrets_core.plugin.hookspecs",
    "secrets_core.envfile",
    "secrets_core.dotenv_import",
    "secrets_core.references",
    "secrets_core.child_env",
    "secrets_core.config._profiles",
    "unicodedata",
    "secrets_core.cli.exitcodes",
    "getpass",
    "termios",
    "secrets_core.rotation",
    "secrets_core.rekey",
    "secrets_core.scoped",
    "secrets_core.audit._verify",
    "secrets_core.audit._alerts",
    "secrets_core.cli.waiting",
    "secrets_core.config._backend_type",
}


def run_cli(*args: str, prelude: str = "") -> tuple[int, str, str, set[str]]:
    """(exit code, stdout, stderr, modules loaded) of the CLI in a new process; the modules
    are listed by an atexit handler, which the quick exit runs like a normal exit."""
    code = (
        "import atexit, json, sys\n"
        "def report():\n    sys.stderr.write('\\nMODULES' + json.dumps(sorted(sys.modules)))\n"
        "atexit.register(report)\n"
        f"{prelude}\n"
        "from secrets_core.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    stderr, _, tail = result.stderr.rpartition("\nMODULES")
    modules, end = json.JSONDecoder().raw_decode(tail)
    return result.returncode, result.stdout, stderr + tail[end:], set(modules)


@pytest.fixture
def stored() -> None:
    SecureSecretsManager().store_secret("api-key", "k-123")


def test_get_imports_nothing_it_does_not_need(stored: None) -> None:
    code, out, err, modules = run_cli("get", "api-key")
    assert (code, out) == (0, "k-123"), err
    assert not modules & MUST_NOT_IMPORT, sorted(modules & MUST_NOT_IMPORT)


def test_get_of_a_missing_name_exits_as_before(stored: None) -> None:
    code, out, err, modules = run_cli("get", "nope")
    assert code == 3 and out == ""
    assert err.startswith("error: ") and "secure-secrets list" in err
    assert not modules & (MUST_NOT_IMPORT - {"secrets_core.cli.exitcodes"})


def test_the_quick_exit_runs_atexit_handlers_once_and_flushes(stored: None) -> None:
    prelude = "atexit.register(lambda: print('|bye', end=''))"
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123|bye"), err


def test_the_quick_exit_waits_for_a_running_thread_as_python_does(stored: None) -> None:
    prelude = (  # the thread finishes once the main thread has (at its exit)
        "import threading\n"
        "def late():\n"
        "    threading.main_thread().join()\n"
        "    print('|late', end='', flush=True)\n"
        "threading.Thread(target=late).start()"
    )
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123|late"), err


def test_a_plain_get_skips_the_interpreters_teardown(stored: None) -> None:
    """What the quick exit saves: objects left for the interpreter's teardown are not
    finalised one by one (a verb through click still ends normally)."""
    prelude = (
        "class Witness:\n    def __del__(self):\n        sys.stderr.write('|teardown')\n"
        "witness = Witness()"
    )
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123") and "|teardown" not in err
    code, _out, err, _ = run_cli("list", prelude=prelude)
    assert code == 0 and "|teardown" in err


def test_types_only_annotations_need_are_imported_when_a_check_needs_them() -> None:
    """The manager's argument checks still refuse a wrong type for a parameter annotated
    with a lazily imported type (``progress: ProgressCallback | None``), and accept a right
    one, in a process that had not imported it."""
    code = (
        "import sys\n"
        "from secrets_core.errors import InvalidArgumentError\n"
        "from secrets_core.manager import SecretsManager\n"
        "lazy = {'secrets_core.rotation', 'secrets_core.scoped'}\n"
        "assert not lazy & set(sys.modules), lazy & set(sys.modules)\n"
        "with SecretsManager() as manager:\n"
        "    try:\n"
        "        manager.rotate_encryption_key(progress=3)\n"
        "    except InvalidArgumentError as exc:\n"
        "        print(exc)\n"
        "    manager.rotate_encryption_key(progress=lambda *_: None)\n"
        "    print(type(manager.scoped('api-key', read_only=True)).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rotate_encryption_key(): progress must be a callable or None, not int",
        "ScopedSecrets",
    ]


def test_a_plain_get_evaluates_no_annotations(stored: None) -> None:
    """Argument checks are compiled from annotations (``typing.get_type_hints``) only when
    a keyword is passed: a plain ``get`` passes none; ``--backend`` still works, checked."""
    prelude = (
        "import typing\n"
        "hints = []\n"
        "evaluate = typing.get_type_hints\n"
        "typing.get_type_hints = lambda *a, **k: hints.append(1) or evaluate(*a, **k)\n"
        "atexit.register(lambda: sys.stderr.write(f'|hints={len(hints)}'))"
    )
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123") and "|hints=0" in err, err
    code, out, err, _ = run_cli("--backend", "file", "get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123") and "|hints=0" not in err, err


def test_a_plain_get_runs_without_the_cyclic_collector_and_other_verbs_with_it(
    stored: None,
) -> None:
    """The cyclic GC's passes over every import's objects are a tenth of a cold get, which is
    short and bounded; every other verb (``run`` may last hours) keeps the collector on."""
    prelude = "import gc\natexit.register(lambda: sys.stderr.write(f'|gc={gc.isenabled()}'))"
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123") and "|gc=False" in err, err
    code, _out, err, _ = run_cli("list", prelude=prelude)
    assert code == 0 and "|gc=True" in err, err


def test_a_plain_get_defines_no_class_through_collections_namedtuple(stored: None) -> None:
    """typing.NamedTuple compiles a ``__new__`` from source for each class (collections
    .namedtuple) and type-checks every annotation; the core's records (``secrets_core.records``)
    are plain classes. Only the audit event's (secrets_core.audit._events) are left."""
    prelude = (
        "import collections\n"
        "made = []\n"
        "original = collections.namedtuple\n"
        "def counting(name, *args, module=None, **kwargs):\n"
        "    made.append(f'{module}.{name}')\n"
        "    return original(name, *args, module=module, **kwargs)\n"
        "collections.namedtuple = counting\n"
        "atexit.register(lambda: sys.stderr.write('|made=' + ','.join(made)))"
    )
    code, out, err, _ = run_cli("get", "api-key", prelude=prelude)
    assert (code, out) == (0, "k-123"), err
    made = err.rpartition("|made=")[2].split(",")
    core = [name for name in made if name.startswith(("secrets_core.", "secure_secrets"))]
    assert all(name.startswith("secrets_core.audit._events.") for name in core), core
