"""``plugins``: what is installed, from which distribution, and whether it loaded."""

from __future__ import annotations

import click

from secrets_core.cli.output import visible
from secrets_core.cli.state import get_state, json_dumps


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "-v", "--verbose", "verbose", is_flag=True, help="Also list what each plugin provides."
)
def plugins_cmd(as_json: bool, verbose: bool) -> None:
    """List installed plugins: name, distribution, version, status, hooks and errors."""
    from secrets_core.plugin._registry import get_registry

    state = get_state()
    infos = get_registry(state.settings().plugins).plugins()
    if as_json:
        click.echo(json_dumps([info._asdict() for info in infos]))
        return
    rows = [("NAME", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS")]
    for info in infos:
        hooks = ", ".join(h.removeprefix("secrets_register_") for h in info.hooks) or "-"
        rows.append((info.name, info.distribution, info.version, info.status, hooks))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        click.echo("  ".join(visible(cell).ljust(w) for cell, w in cells).rstrip())
        info_row = infos[index - 1] if index else None
        if info_row is not None and info_row.error:
            click.echo(f"    error: {visible(info_row.error)}")
        if info_row is not None and (verbose or state.verbose) and info_row.provides:
            click.echo(f"    provides: {visible(', '.join(info_row.provides))}")
