"""Leak canary through the command line: a sentinel value goes through every verb, run as
the installed ``secure-secrets`` console script in real processes, with ``-vv`` (DEBUG
logging) and the ``logging`` audit sink on, and through the error paths (a bad name, a missing
secret, a corrupted record, a pasted value in the name's place).

The sentinel (and its base64 and hex forms) may appear only where it was asked for (``get``,
``get --json``, ``export --yes``, a ``run`` child that prints its own environment); never in
stderr, in any other output, in the log or audit log, or in any file of the config, data,
state and cache dirs, which hold ciphertext only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from secrets_core.cli.exitcodes import CONFIG, FAILURE, INTEGRITY, NOT_FOUND, USAGE
from secrets_core.cli.masking import MASK

pytestmark = pytest.mark.slow

CANARY = f"CANARY-cli-{uuid.uuid4().hex[:16]}"
IMPORTED = f"CANARY-import-{uuid.uuid4().hex[:16]}"
SCRIPT = Path(sys.executable).with_name("secure-secrets")
MAIN = "from secrets_core.cli import main; main()"


def leak_forms(value: str) -> list[bytes]:
    """The value as text, and in base64 (standard and URL-safe, at every alignment) and hex:
    encoded forms that a careless JSON dump or debug print could show."""
    raw = value.encode()
    forms = [raw, raw.hex().encode()]
    for skip in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.append(encode(raw[skip:])[:-4])  # the tail depends on what follows
    return forms


FORMS = leak_forms(CANARY) + leak_forms(IMPORTED)


def leaks(data: bytes | str) -> list[bytes]:
    data = data.encode() if isinstance(data, str) else data
    return [form for form in FORMS if form in data]


class Cli:
    """The console script in a new process, with the test's isolated environment, -vv and
    every library's log records (--log-all-libraries: the widest output there is)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-c", MAIN]
        self.transcript: list[tuple[tuple[str, ...], subprocess.CompletedProcess[bytes]]] = []

    def __call__(
        self, *args: str, input: bytes | None = None, code: int = 0, value_ok: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [*self.command, "-vv", "--log-all-libraries", *args],
            input=input,
            capture_output=True,
            cwd=self.workdir,
            env=dict(os.environ),
            timeout=60,
        )
        self.transcript.append((args, result))
        assert result.returncode == code, (args, result.returncode, result.stderr[-2000:])
        assert not leaks(result.stderr), (args, "stderr", result.stderr[-2000:])
        if not value_ok:
            assert not leaks(result.stdout), (args, "stdout", result.stdout[-2000:])
        return result


@pytest.fixture
def cli(isolated_home: Path, tmp_path: Path) -> Cli:
    config = isolated_home / "config" / "secure-secrets" / "config.toml"
    run = Cli(tmp_path)
    run("init", "--key-source", "keyfile")
    text = config.read_text()
    config.write_text(text + '\n[audit]\nsinks = ["jsonl", "logging"]\n[audit.logging]\n')
    run("config", "validate")
    return run


def test_the_canary_goes_through_every_verb_and_leaks_nowhere(
    cli: Cli, isolated_home: Path, tmp_path: Path, secret_file_name: Callable[[str], str]
) -> None:
    data_dir = isolated_home / "data" / "secure-secrets"

    # --- values in, by stdin only ------------------------------------------------------------
    cli("set", "canary/value", input=CANARY.encode())
    cli("set", "canary/bytes", "--binary", input=CANARY.encode() + b"\x00\xff")
    cli("set", "canary/meta", "-m", "owner=ops", input=CANARY.encode())
    cli("set", "other/plain", input=b"not-the-canary")

    # --- asked for: the value on stdout, never on stderr --------------------------------------
    assert cli("get", "canary/value", value_ok=True).stdout == CANARY.encode()
    doc = json.loads(cli("get", "--json", "canary/value", value_ok=True).stdout)
    assert doc["value"] == CANARY and doc["name"] == "canary/value"
    plain = cli("export", "--yes", "--prefix", "canary/v", value_ok=True).stdout
    assert CANARY.encode() in plain
    exported = json.loads(cli("export", "--format", "json", "--yes", value_ok=True).stdout)
    assert CANARY in json.dumps(exported)

    # --- never asked for ------------------------------------------------------------------------
    for args in (
        ("list",), ("list", "--json"), ("list", "canary/"),
        ("history", "canary/value"), ("history", "--json", "canary/meta"),
        ("export", "--ciphertext"), ("export", "--ciphertext", "--format", "json"),
        ("rotate-key",), ("rotate-key", "--keep-old-keys", "0"),
        ("audit", "tail", "-n", "200"), ("audit", "tail", "--json", "-n", "200"),
        ("audit", "verify"), ("doctor",), ("config", "show"), ("config", "show", "--json"),
        ("config", "path"), ("plugins",),
    ):  # fmt: skip
        cli(*args)
    refused = cli("export", code=USAGE)  # plaintext without --yes
    assert b"--yes" in refused.stderr

    # --- run: the child gets the value; --mask hides it in what the child prints -------------
    digest = hashlib.sha256(CANARY.encode()).hexdigest()
    check = (
        "import hashlib, os, sys; "
        "v = os.environ['CANARY_VALUE'].encode(); "
        f"sys.exit(0 if hashlib.sha256(v).hexdigest() == {digest!r} else 9)"
    )
    cli("run", "--only", "canary/value", "--", sys.executable, "-c", check)  # 0: exact value
    cli("run", "--", "true", code=USAGE)  # canary/bytes holds a NUL: no variable can hold it
    to_both = "import os, sys; v = os.environ['CANARY_VALUE']; print(v); print(v, file=sys.stderr)"
    masked = cli("run", "--mask", "--only", "canary/value", "--", sys.executable, "-c", to_both)
    assert masked.stdout == MASK + b"\n" and masked.stderr.endswith(MASK + b"\n")
    to_stdout = "import os; print(os.environ['CANARY_VALUE'])"
    unmasked = cli(
        "run", "--only", "canary/value", "--", sys.executable, "-c", to_stdout, value_ok=True
    )
    assert unmasked.stdout == CANARY.encode() + b"\n"  # the child printed its own environment

    # --- import-env: a plaintext .env goes in, and is rewritten without the plaintext ---------
    dotenv = tmp_path / "app.env"
    dotenv.write_text(f"# app settings\nIMPORTED_TOKEN={IMPORTED}\n")
    cli("import-env", str(dotenv))
    rewritten = cli("import-env", str(dotenv), "--apply", "--rewrite")
    assert not leaks(dotenv.read_bytes()), "--rewrite replaces the plaintext"
    # By design (docs/migration.md) the original is kept as a 0600 backup, which the output
    # names so it can be deleted after checking; it is the only plaintext copy we leave.
    (backup,) = tmp_path.glob("app.env.*.bak")
    assert backup.name.encode() in rewritten.stdout + rewritten.stderr
    assert backup.stat().st_mode & 0o077 == 0
    backup.unlink()
    assert cli("get", "IMPORTED_TOKEN", value_ok=True).stdout == IMPORTED.encode()

    # --- delete, restore, purge ------------------------------------------------------------------
    cli("delete", "canary/bytes")
    cli("restore", "canary/bytes")
    cli("delete", "--purge", "canary/bytes")

    # --- error paths -------------------------------------------------------------------------
    cli("get", "missing/secret", code=NOT_FOUND)
    cli("get", "canary/value", "--version", "99", code=NOT_FOUND)
    cli("get", "bad/../name", code=USAGE)
    cli("set", "bad/../name", input=CANARY.encode(), code=USAGE)
    cli("set", f"pasted value {CANARY}!", input=b"x", code=USAGE)  # a value pasted as the name
    cli("get", f"{CANARY} pasted", code=USAGE)
    cli("set", "bad/../name", "--value", CANARY, code=USAGE)
    cli("--backend", "nope", "get", "canary/value", code=CONFIG)
    record = data_dir / "store" / secret_file_name("canary/value")
    data = bytearray(record.read_bytes())
    data[-30] ^= 0x01
    record.write_bytes(bytes(data))
    cli("get", "canary/value", code=INTEGRITY)
    cli("get", "--json", "canary/value", code=INTEGRITY)
    cli("export", "--yes", code=INTEGRITY)
    cli("rotate-key", code=INTEGRITY)
    cli("doctor", code=FAILURE)

    # --- every file written: ciphertext and metadata only --------------------------------------
    scanned = 0
    for root in (isolated_home, tmp_path):
        for path in root.rglob("*"):
            if path.is_file():
                scanned += 1
                assert not leaks(path.read_bytes()), f"{path} holds the value"
    assert scanned >= 8
    log = isolated_home / "state" / "secure-secrets" / "log" / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"store", "retrieve", "rotate", "delete", "purge"} <= {e["operation"] for e in events}
    assert any(b"DEBUG" in r.stderr for _a, r in cli.transcript), "-vv must log at DEBUG"
    assert any(b'"operation"' in r.stderr for _a, r in cli.transcript), "audit events logged"
