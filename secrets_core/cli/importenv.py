"""``import-env PATH``: move a plaintext .env into a backend (a dry run unless --apply)."""

from __future__ import annotations

from pathlib import Path

import click

from secrets_core.cli.state import echo_json, get_state, json_option


@click.command("import-env")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", is_flag=True, help="Import for real (the default is a dry run).")
@click.option("--rewrite", is_flag=True, help="With --apply: replace the plaintext in PATH.")
@click.option(
    "--references",
    is_flag=True,
    help="With --rewrite: write each imported entry as its secret reference (KEY=ss://...), "
    "for secure-secrets run --env-file PATH.",
)
@click.option("--overwrite", is_flag=True, help="Replace secrets that already exist.")
@json_option(
    'Print {"path", "backend", "dry_run", "rewritten", "backup", "entries": [{"line", "key", '
    '"name", "exists", "status", "reason"}]} as JSON.'
)
def import_env_cmd(
    path: Path, apply: bool, rewrite: bool, references: bool, overwrite: bool, as_json: bool
) -> None:
    """Import the entries of a plaintext .env file. Prints names, never values."""
    from secrets_core.dotenv_import import import_dotenv

    if rewrite and not apply:
        raise click.UsageError("--rewrite needs --apply")
    if references and not rewrite:
        raise click.UsageError("--references needs --rewrite")
    state = get_state()
    report = import_dotenv(
        state.manager(),
        path,
        backend_type=state.backend,
        dry_run=not apply,
        rewrite="references" if references else rewrite,
        overwrite=overwrite,
    )
    if not as_json:
        click.echo(str(report))
        return
    entries = [
        {
            "line": e.line,
            "key": e.key,
            "name": e.name,
            "exists": e.exists,
            "status": e.status,
            "reason": e.reason,
        }  # fmt: skip
        for e in report.entries
    ]
    echo_json({"path": str(report.path), "backend": report.backend, "dry_run": report.dry_run,
               "rewritten": report.rewritten, "entries": entries,
               "backup": str(report.backup) if report.backup else None})  # fmt: skip
