"""What the global options decide, shared by every verb through ``ctx.obj``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

FC = TypeVar("FC", bound=Callable[..., Any])

if TYPE_CHECKING:
    from secrets_core.config import Settings
    from secrets_core.manager import SecretsManager


@dataclass
class State:
    """Global options and the lazily built manager."""

    backend: str | None = None
    config: Path | None = None
    profile: str | None = None
    verbose: int = 0
    quiet: bool = False
    _manager: SecretsManager | None = field(default=None, repr=False)

    def manager(self) -> SecretsManager:
        """The manager for this invocation, built on first use."""
        if self._manager is None:
            from secrets_core.cli.waiting import watched
            from secrets_core.manager import SecretsManager

            self._manager = watched(
                SecretsManager(
                    default_backend=self.backend, config_path=self.config, profile=self.profile
                ),
                self.backend,
            )
        return self._manager

    def settings(self) -> Settings:
        """The merged configuration (without building a manager)."""
        if self._manager is not None:
            return self._manager.settings
        from secrets_core.config import load_settings

        return load_settings(
            config_path=self.config, default_backend=self.backend, profile=self.profile
        )

    def config_path(self) -> Path:
        """The config file this invocation reads (``--config``, then the env var, then the
        platform default)."""
        if self.config is not None:
            return self.config.expanduser()
        from secrets_core.config import default_config_path

        return default_config_path()

    def backend_name(self) -> str:
        return self.backend or self.manager().default_backend

    def info(self, message: str) -> None:
        """A status message on stderr (stdout stays for data); silenced by ``--quiet``."""
        if not self.quiet:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        """A warning on stderr, shown even with ``--quiet``."""
        click.echo(f"warning: {message}", err=True)

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None


def get_state(ctx: click.Context | None = None) -> State:
    ctx = ctx or click.get_current_context()
    state = ctx.find_object(State)
    if state is None:  # a verb invoked on its own, outside the group (tests)
        state = ctx.ensure_object(State)
    return state


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def json_dumps(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True)


def json_option(help: str) -> Callable[[FC], FC]:
    """The ``--json`` flag of a verb (its shape is documented per verb in docs/cli.md)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def echo_json(data: Any) -> None:
    click.echo(json_dumps(data))
