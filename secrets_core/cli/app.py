"""The ``secure-secrets`` group: global options, lazy verb loading and error handling."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from secrets_core.cli import errors
from secrets_core.cli.exitcodes import EXIT_CODES_HELP
from secrets_core.cli.state import State
from secrets_core.errors import PluginLoadError, PluginNotFoundError, SecretsError

if TYPE_CHECKING:
    from secrets_core.plugin import CommandSpec, PluginRegistry

#: The core's verbs: verb -> "module:attribute", imported only when the verb runs (or help
#: lists it). Plugins add theirs through ``secrets_register_commands`` (a core verb wins).
COMMANDS: dict[str, str] = {
    "init": "secrets_core.cli.keys:init_cmd",
    "set": "secrets_core.cli.values:set_cmd",
    "get": "secrets_core.cli.values:get_cmd",
    "delete": "secrets_core.cli.values:delete_cmd",
    "restore": "secrets_core.cli.values:restore_cmd",
    "list": "secrets_core.cli.values:list_cmd",
    "history": "secrets_core.cli.values:history_cmd",
    "rotate-key": "secrets_core.cli.keys:rotate_key_cmd",
    "verify-keys": "secrets_core.cli.keys:verify_keys_cmd",
    "change-passphrase": "secrets_core.cli.keys:change_passphrase_cmd",
    "run": "secrets_core.cli.run:run_cmd",
    "export": "secrets_core.cli.export:export_cmd",
    "import-env": "secrets_core.cli.importenv:import_env_cmd",
    "plugins": "secrets_core.cli.plugins:plugins_cmd",
    "config": "secrets_core.cli.config:config_group",
    "audit": "secrets_core.cli.audit:audit_group",
    "doctor": "secrets_core.cli.doctor:doctor_cmd",
    "completion": "secrets_core.cli.completion:completion_cmd",
}


def plugin_verbs(registry: PluginRegistry) -> tuple[dict[str, CommandSpec], list[str]]:
    """The verbs plugins add (each with its distribution), and one message per clash: a
    plugin verb named like a core verb (the core verb runs), or one verb from two plugins."""
    shipped = {
        provided.partition(":")[2]: info.distribution
        for info in registry.plugins()
        if info.status == "active"
        for provided in info.provides
        if provided.startswith("command:")
    }
    verbs: dict[str, CommandSpec] = {}
    clashes: list[str] = []
    for name in registry.names("command"):
        try:
            spec = registry.lookup("command", name)
        except SecretsError as exc:  # two plugins: the registry's message names both
            clashes.append(str(exc))
            continue
        spec = spec._replace(distribution=spec.distribution or shipped.get(name, "unknown"))
        if name in COMMANDS:
            clashes.append(
                f"plugin verb '{name}' of {spec.distribution} has the name of the core verb "
                f"'{name}' of secure-secrets; the core verb runs (rename the plugin's verb, or "
                "block the plugin with plugins.block / SECURE_SECRETS_PLUGINS_BLOCK)"
            )
        else:
            verbs[name] = spec
    return verbs, clashes


def _registry(ctx: click.Context) -> PluginRegistry:
    """The registry under the plugin policy of the config the global options name."""
    from secrets_core.config import load_settings
    from secrets_core.plugin import get_registry

    params = ctx.find_root().params
    settings = load_settings(config_path=params.get("config_path"), profile=params.get("profile"))
    return get_registry(settings.plugins)


class LazyGroup(click.Group):
    """A group that imports a verb's module only when the verb is used, and turns library
    errors into one line on stderr with the documented exit code.

    Core verbs come from :data:`COMMANDS` and never load a plugin. Plugin verbs are looked
    up only for a name that is not a core verb (through the ``secrets_core.provides``
    declarations: just the plugin that provides it loads) and for listings (``--help``,
    completion: a full discovery)."""

    def _plugin_verbs(self, ctx: click.Context) -> dict[str, CommandSpec]:
        root = ctx.find_root()
        if "plugin_verbs" not in root.meta:
            verbs: dict[str, CommandSpec] = {}
            try:
                verbs, clashes = plugin_verbs(_registry(ctx))
            except SecretsError as exc:
                clashes = [f"plugin verbs not listed: {exc}"]
            if not ctx.resilient_parsing:  # not during shell completion
                for clash in clashes:
                    click.echo(f"warning: {clash}", err=True)
            root.meta["plugin_verbs"] = verbs
        found: dict[str, CommandSpec] = root.meta["plugin_verbs"]
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self._plugin_verbs(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        where = "secure-secrets"
        if target is None:
            spec = self._plugin_command(ctx, cmd_name)
            if spec is None:
                return None
            target, where = spec.command, f"plugin verb '{cmd_name}'"
        module_name, _, attribute = target.partition(":")
        try:
            # __import__ rather than importlib.import_module: the same, but visible to
            # `python -X importtime`, which the cold-start check reads.
            command = getattr(__import__(module_name, fromlist=[attribute]), attribute)
        except (ImportError, AttributeError) as exc:
            if target in COMMANDS.values():
                raise
            raise PluginLoadError(
                f"{where} cannot be loaded from {target} ({type(exc).__name__}); reinstall "
                "or upgrade the plugin that provides it (see: secure-secrets plugins)"
            ) from None
        if not isinstance(command, click.Command):
            raise PluginLoadError(f"{where}: {target} is not a click command")
        return command

    def _plugin_command(self, ctx: click.Context, cmd_name: str) -> CommandSpec | None:
        """The plugin verb ``cmd_name``, None if no plugin provides it (click then says "No
        such command"), or a usage error naming the distribution that would."""
        from secrets_core.plugin._registry import KNOWN_DISTRIBUTIONS

        try:
            spec: CommandSpec = _registry(ctx).lookup("command", cmd_name)
            return spec
        except PluginNotFoundError as exc:
            if ("command", cmd_name) in KNOWN_DISTRIBUTIONS and not ctx.resilient_parsing:
                raise click.UsageError(str(exc), ctx) from None
            return None
        except SecretsError:
            if ctx.resilient_parsing:
                return None
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, except that a plugin verb shows its descriptor's help line and
        distribution without importing the verb."""
        verbs = self._plugin_verbs(ctx)
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            if name in verbs:
                rows.append((name, f"{verbs[name].help} ({verbs[name].distribution})"))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
