"""``audit tail``: the last events of the JSON-lines audit log."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import click

from secrets_core.cli.errors import CONFIG, INTEGRITY, CliError
from secrets_core.cli.state import get_state


def audit_log_path() -> Path:
    """Where the configured ``jsonl`` sink writes."""
    from secrets_core.assembly import Assembly

    settings = get_state().settings()
    if any(sink.name == "jsonl" for sink in settings.audit_sinks):
        return Assembly(settings).audit_log_path()
    raise CliError(
        "audit tail reads the jsonl audit sink, which is not configured (audit.sinks); "
        'add "jsonl" to audit.sinks',
        CONFIG,
    )


def format_event(line: str) -> str:
    """One event as a readable line: time, operation, backend, secret, outcome, actor."""
    try:
        event = json.loads(line)
        actor = event.get("actor") or {}
        outcome = event.get("outcome", "?")
        if event.get("error_type"):
            outcome += f" ({event['error_type']})"
        return "  ".join(
            [
                str(event.get("timestamp", "?")),
                str(event.get("operation", "?")),
                str(event.get("backend") or "-"),
                str(event.get("secret_name") or "-"),
                outcome,
                f"{actor.get('user', '?')}@{actor.get('host', '?')}[{actor.get('pid', '?')}]",
            ]
        )
    except (ValueError, AttributeError, TypeError):
        return "(unreadable line)"


@click.group("audit")
def audit_group() -> None:
    """Read and verify the audit log."""


@audit_group.command("tail")
@click.option("-n", "--lines", "count", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The raw JSON lines.")
def tail_cmd(count: int, as_json: bool) -> None:
    """Print the last events of the audit log (oldest first)."""
    state = get_state()
    path = audit_log_path()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            last = collections.deque(handle, maxlen=count)
    except FileNotFoundError:
        state.info(f"no audit events yet ({path} does not exist)")
        return
    for line in last:
        click.echo(line.rstrip("\n") if as_json else format_event(line))


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def verify_cmd(as_json: bool) -> None:
    """Check the audit log's HMAC chain and checkpoint; exit 6 at the first bad event."""
    result = get_state().manager().verify_audit_log(audit_log_path())
    if as_json:
        click.echo(json.dumps(result._asdict(), sort_keys=True))
    elif result.ok:
        click.echo(f"ok: {result.events} events, {result.chained} chained")
    if not result.ok:
        raise CliError(
            f"audit log fails verification at line {result.first_bad_line}: {result.problem}",
            INTEGRITY,
        )
