"""The ``secure-secrets`` group: global options, lazy verb loading and error handling."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from secrets_core.cli import errors
from secrets_core.cli.exitcodes import EXIT_CODES_HELP
from secrets_core.cli.state import State
from secrets_core.errors import SecretsError

#: verb -> "module:attribute", imported only when the verb runs (or help lists it).
COMMANDS: dict[str, str] = {
    "init": "secrets_core.cli.keys:init_cmd",
    "set": "secrets_core.cli.values:set_cmd",
    "get": "secrets_core.cli.values:get_cmd",
    "delete": "secrets_core.cli.values:delete_cmd",
    "restore": "secrets_core.cli.values:restore_cmd",
    "list": "secrets_core.cli.values:list_cmd",
    "history": "secrets_core.cli.values:history_cmd",
    "rotate-key": "secrets_core.cli.keys:rotate_key_cmd",
    "change-passphrase": "secrets_core.cli.keys:change_passphrase_cmd",
    "run": "secrets_core.cli.run:run_cmd",
    "lease": "secrets_core.cli.lease:lease_group",
    "export": "secrets_core.cli.export:export_cmd",
    "import-env": "secrets_core.cli.importenv:import_env_cmd",
    "plugins": "secrets_core.cli.plugins:plugins_cmd",
    "config": "secrets_core.cli.config:config_group",
    "audit": "secrets_core.cli.audit:audit_group",
    "doctor": "secrets_core.cli.doctor:doctor_cmd",
    "completion": "secrets_core.cli.completion:completion_cmd",
}


class LazyGroup(click.Group):
    """A group that imports a verb's module only when the verb is used, and turns library
    errors into one line on stderr with the documented exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        # __import__ rather than importlib.import_module: the same, but visible to
        # `python -X importtime`, which the cold-start check reads.
        command = getattr(__import__(module_name, fromlist=[attribute]), attribute)
        assert isinstance(command, click.Command)
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """click's main, except that every error, usage errors included, is one line:
        ``error: <message> (<what to do>)``."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # the help text, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "secure-secrets"
            hint = f"see: {command} --help"
            click.echo(errors.error_line(exc.format_message(), hint), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort as exc:  # click wraps Ctrl-C (KeyboardInterrupt) in an Abort
            if isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo(errors.error_line("interrupted"), err=True)
                sys.exit(errors.INTERRUPTED)
            click.echo(errors.error_line("aborted"), err=True)
            sys.exit(errors.FAILURE)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except SecretsError as exc:
            raise errors.from_library(exc, _verbose(ctx)) from None
        except EOFError:
            raise errors.CliError("no input: stdin was closed", errors.USAGE) from None
        except Exception as exc:
            raise errors.unexpected(exc, _verbose(ctx)) from None


def _verbose(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.verbose)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--backend",
    metavar="NAME",
    help="Backend to use instead of the configured default (file, env, vault, ...).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file to use (default: $SECURE_SECRETS_CONFIG or the platform config dir).",
)
@click.option(
    "--profile",
    metavar="NAME",
    help="Config profile to use, e.g. prod (default: $SECURE_SECRETS_PROFILE, else none).",
)
@click.option("-v", "--verbose", count=True, help="Log what happens; tracebacks on errors.")
@click.option(
    "--log-all-libraries",
    is_flag=True,
    help="With -v/-vv, also show third-party libraries' debug logs (may show secrets).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only data and errors.")
@click.version_option(package_name="secure-secrets", prog_name="secure-secrets")
@click.pass_context
def cli(
    ctx: click.Context,
    backend: str | None,
    config_path: Path | None,
    profile: str | None,
    verbose: int,
    log_all_libraries: bool,
    quiet: bool,
) -> None:
    """Store, read and inject secrets from the shell.

    Values never need to appear on the command line: `set` reads a hidden prompt, stdin or a
    file. `secure-secrets VERB --help` describes a verb; `secure-secrets completion SHELL`
    prints the shell completion script. Most verbs take --json for scripts.
    """
    state = ctx.ensure_object(State)
    state.backend = backend or None
    state.config = config_path
    state.profile = profile or None
    state.verbose = verbose
    state.quiet = quiet and not verbose
    if verbose:
        from secrets_core.cli import logs

        logs.configure(verbose, log_all_libraries)
    ctx.call_on_close(state.close)
