"""``run``: start a command with secrets in its environment, and only in its environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import IO, TYPE_CHECKING

import click

from secrets_core.child_env import inherited_environment, refuse_steering
from secrets_core.cli.envnames import variable_map
from secrets_core.cli.errors import USAGE, CliError
from secrets_core.cli.masking import Masker
from secrets_core.cli.state import State, get_state

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def child_environment(
    parent: Mapping[str, str], secrets: Mapping[str, str | bytes]
) -> dict[str, str]:
    """A copy of ``parent`` plus ``secrets`` (which win over variables of the same name).
    ``parent`` itself is not modified."""
    env = dict(parent)
    for variable, value in secrets.items():
        text = value if isinstance(value, str) else os.fsdecode(value)
        if "\0" in text:
            raise CliError(
                f"the secret for ${variable} contains a NUL byte, which an environment "
                "variable cannot hold",
                USAGE,
            )
        env[variable] = text
    return env


def _terminal_signals_child() -> bool:
    """True when we run in the foreground of a terminal: then Ctrl-C reaches the child (same
    process group) from the terminal itself, and forwarding SIGINT would deliver it twice."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _pump(source: IO[bytes], sink: IO[bytes], masker: Masker) -> None:
    """Copy the child's stream to ours, masked. If ours is closed (a pipe reader went away),
    keep draining the child's so that it never blocks on a full pipe."""
    fd = source.fileno()
    broken = False
    while True:
        chunk = os.read(fd, 65536)
        data = masker.feed(chunk) if chunk else masker.flush()
        if not broken:
            try:
                sink.write(data)
                sink.flush()
            except OSError:
                broken = True
        if not chunk:
            return


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Inject only this secret (repeatable). Default: every secret of the backend.",
)
@click.option(
    "--policy",
    metavar="NAME",
    help="Read through the [policies.NAME] access policy: only what it grants is passed, and "
    "an --only name it does not grant is refused.",
)
@click.option(
    "--prefix",
    default="",
    metavar="PREFIX",
    help="Only secrets whose name starts with PREFIX; PREFIX is dropped from variable names.",
)
@click.option("--mask", is_flag=True, help="Replace secret values in the command's output.")
@click.option(
    "--pass-key-env",
    is_flag=True,
    help="Also pass the key and credential variables (passphrase, KEK, VAULT_TOKEN, every "
    '{ env = "VAR" } of the config) to the command.',
)
@click.option(
    "--allow-variable",
    "allowed",
    multiple=True,
    metavar="VAR",
    help="Let a secret set VAR although it steers a loader, shell or interpreter (PATH, "
    "LD_PRELOAD, BASH_ENV, PYTHON*...), or keep the credential variable VAR (repeatable).",
)
@click.option(
    "--dynamic",
    "dynamic_specs",
    multiple=True,
    metavar="VAR=PATH",
    help="Also pass a dynamic credential (repeatable): VAR=PATH[?KEY=VALUE&...][#FIELD], from "
    "--backend or the first configured backend that issues them (Vault/OpenBao with "
    "secure-secrets-vault); renewed while COMMAND runs, revoked when it exits.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_cmd(
    only: tuple[str, ...],
    policy: str | None,
    prefix: str,
    mask: bool,
    pass_key_env: bool,
    allowed: tuple[str, ...],
    dynamic_specs: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with secrets as environment variables: secure-secrets run -- CMD ARGS.

    Secret 'db/password' becomes $DB_PASSWORD (upper case, other characters '_'). The exit
    status of COMMAND is returned; SIGINT, SIGTERM and SIGHUP are forwarded to it.
    """
    state = get_state()
    manager = state.manager()
    source = manager.scoped(policy=policy) if policy else manager
    names = list(only) if only else source.list_secrets(prefix)
    if prefix:
        names = [name for name in names if name.startswith(prefix)]
    mapping = variable_map(names, prefix)
    refuse_steering(mapping, allowed)  # before anything is decrypted
    secrets = {variable: source.retrieve_secret(name) for variable, name in mapping.items()}
    with contextlib.ExitStack() as leases:
        if dynamic_specs:
            from secrets_core.cli.dynamic import dynamic_variables

            secrets.update(dynamic_variables(state, dynamic_specs, set(secrets), leases))
        code = _run_with(state, manager, secrets, mask, pass_key_env, allowed, command)
    click.get_current_context().exit(code)


def _run_with(
    state: State,
    manager: SecretsManager,
    secrets: dict[str, str | bytes],
    mask: bool,
    pass_key_env: bool,
    allowed: tuple[str, ...],
    command: tuple[str, ...],
) -> int:
    parent = dict(os.environ) if pass_key_env else inherited_environment(manager, allowed)
    env = child_environment(parent, secrets)
    mask_values = None
    if mask:
        mask_values = [v.encode("utf-8") if isinstance(v, str) else v for v in secrets.values()]
    state.close()  # release the store before the child runs
    if state.verbose:
        state.info(f"running {command[0]} with {', '.join(sorted(secrets)) or 'no secrets'}")
    return _run_child(list(command), env, mask_values)


def _run_child(argv: list[str], env: dict[str, str], mask_values: list[bytes] | None) -> int:
    """Run the child, forwarding signals and (with ``mask_values``) masking its output."""
    child: subprocess.Popen[bytes] | None = None
    terminal_delivers_sigint = _terminal_signals_child()

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child is None or (signum == signal.SIGINT and terminal_delivers_sigint):
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    pipe = subprocess.PIPE if mask_values is not None else None
    pumps: list[threading.Thread] = []
    try:
        try:
            child = subprocess.Popen(argv, env=env, stdout=pipe, stderr=pipe)  # noqa: S603
        except FileNotFoundError:
            raise CliError(f"command not found: {argv[0]}", 127) from None
        except PermissionError:
            raise CliError(f"command not executable: {argv[0]}", 126) from None
        if mask_values is not None:
            assert child.stdout is not None and child.stderr is not None
            for source, sink in (
                (child.stdout, sys.stdout.buffer),
                (child.stderr, sys.stderr.buffer),
            ):
                thread = threading.Thread(
                    target=_pump, args=(source, sink, Masker(mask_values)), daemon=True
                )
                thread.start()
                pumps.append(thread)
        returncode = child.wait()
        for thread in pumps:
            thread.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - returncode if returncode < 0 else returncode
