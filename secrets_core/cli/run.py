"""``run``: start a command with secrets in its environment, and only in its environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

import click

from secrets_core.child_env import credential_variables, refuse_steering
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
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also pass the variables of this dotenv file (repeatable; later files win); "
    "secret references (ss:...) in it are resolved.",
)
@click.option(
    "--allow-profile",
    "allow_profiles",
    multiple=True,
    metavar="NAME",
    help="Resolve references that name this profile (repeatable); by default a reference "
    "to a profile other than the active one is refused.",
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
    env_files: tuple[Path, ...],
    allow_profiles: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with secrets as environment variables: secure-secrets run -- CMD ARGS.

    Secret 'db/password' becomes $DB_PASSWORD (upper case, other characters '_'). Secret
    references (ss://BACKEND/NAME, ss:NAME) in the environment and in --env-file files are
    resolved first; if one cannot be, COMMAND is not started (exit code 8). Without --only
    or --prefix, every secret is passed only when there is no reference and no --env-file.
    The exit status of COMMAND is returned; SIGINT, SIGTERM and SIGHUP are forwarded to it.
    """
    state = get_state()
    manager = state.manager()
    source = manager.scoped(policy=policy) if policy else manager
    base, secrets = _resolve_references(manager, env_files, allow_profiles, policy)
    if only or prefix or not (secrets or env_files):
        names = list(only) if only else source.list_secrets(prefix)
        if prefix:
            names = [name for name in names if name.startswith(prefix)]
        mapping = variable_map(names, prefix)
        refuse_steering(mapping, allowed)  # before anything is decrypted
        secrets.update(
            {variable: source.retrieve_secret(name) for variable, name in mapping.items()}
        )
    with contextlib.ExitStack() as leases:
        if dynamic_specs:
            from secrets_core.cli.dynamic import dynamic_variables

            secrets.update(dynamic_variables(state, dynamic_specs, set(secrets), leases))
        code = _run_with(state, manager, base, secrets, mask, pass_key_env, allowed, command)
    click.get_current_context().exit(code)


def _resolve_references(
    manager: SecretsManager,
    env_files: tuple[Path, ...],
    allow_profiles: tuple[str, ...],
    policy: str | None,
) -> tuple[dict[str, str], dict[str, str | bytes]]:
    """The parent environment plus the ``env_files``' variables, and the values of the
    references among them (all resolved before any child starts, or an
    ``UnresolvedReferencesError`` listing the variables)."""
    from secrets_core.references import ReferenceResolver, find_references, unescape

    base = dict(os.environ)
    if env_files:
        from secrets_core.envfile import read_dotenv_values

        for path in env_files:
            base.update(read_dotenv_values(path))
    # credentials and key material are never references, never altered
    keys = credential_variables(manager)
    references = find_references({k: v for k, v in base.items() if k not in keys})
    for variable, value in base.items():
        if variable not in references and variable not in keys:
            base[variable] = unescape(value)
    if not references:
        return base, {}
    resolver = ReferenceResolver(manager, allow_profiles=allow_profiles, policy=policy)
    with resolver:
        secrets = resolver.resolve_mapping({v: base.pop(v) for v in references})
    return base, secrets


def _run_with(
    state: State,
    manager: SecretsManager,
    base: Mapping[str, str],
    secrets: dict[str, str | bytes],
    mask: bool,
    pass_key_env: bool,
    allowed: tuple[str, ...],
    command: tuple[str, ...],
) -> int:
    drop = set() if pass_key_env else credential_variables(manager) - set(allowed)
    env = child_environment({k: v for k, v in base.items() if k not in drop}, secrets)
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
