"""``audit tail|verify|anchor``: read, verify and anchor the JSON-lines audit log."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import click

from secrets_core.cli.errors import (
    AUDIT_KEYLESS,
    AUDIT_NOT_TAMPER_EVIDENT,
    CONFIG,
    INTEGRITY,
    USAGE,
    CliError,
)
from secrets_core.cli.output import visible
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
            visible(cell)
            for cell in [
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
        click.echo(visible(line.rstrip("\n")) if as_json else format_event(line))


def format_keyless(event: dict[str, object]) -> str:
    """One event written without the audit key: time, user, pid@host, operation, outcome."""
    outcome = str(event.get("outcome"))
    if event.get("error_type"):
        outcome += f" ({event['error_type']})"
    return "  " + "  ".join(
        visible(cell)
        for cell in (
            event.get("timestamp"),
            f"{event.get('user')} pid {event.get('pid')}@{event.get('host')}",
            event.get("operation"),
            event.get("secret_name") or "-",
            outcome,
        )
    )


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.option(
    "--anchor",
    "saved_head",
    metavar="SEQ:MAC",
    help="A head saved earlier from `audit anchor`: fail if the log no longer holds it "
    "(a rollback of the log and its checkpoint).",
)
@click.option(
    "--accept-keyless",
    is_flag=True,
    help="Exit 0, not 8, when the only finding is events written without the audit key "
    "(once you have reviewed them).",
)
def verify_cmd(as_json: bool, saved_head: str | None, accept_keyless: bool) -> None:
    """Check the audit log: its HMAC chain, the chain's anchor in the keyring, the checkpoint
    and rotated files. Exit 6 on tampering, 8 when events were written without the audit key,
    9 when nothing authenticates the log."""
    try:
        result = get_state().manager().verify_audit_log(audit_log_path(), anchor=saved_head)
    except ValueError as exc:  # a malformed --anchor
        raise CliError(str(exc), USAGE) from None
    if as_json:
        click.echo(json.dumps(result._asdict(), sort_keys=True))
    elif result.status in ("ok", "keyless"):
        anchored = "anchored" if result.anchored else "not anchored yet"
        prefix = "ok" if result.ok else "chain ok"
        click.echo(f"{prefix}: {result.events} events, {result.chained} chained, {anchored}")
        if result.keyless:
            click.echo(f"{len(result.keyless)} events written without the audit key:")
            for event in result.keyless:
                click.echo(format_keyless(event))
        if result.torn:
            click.echo(f"{result.torn} incomplete line(s) from writes cut short")
    if result.status == "tampered":
        where = f" at line {result.first_bad_line}" if result.first_bad_line else ""
        if result.bad_file:
            where += f" of {result.bad_file}"
        raise CliError(
            f"audit log fails verification{where}: {result.problem} [{result.reason}]",
            INTEGRITY,
            "see docs/audit.md, Recovering",
        )
    if result.status == "not_tamper_evident":
        raise CliError(str(result.problem), AUDIT_NOT_TAMPER_EVIDENT)
    if result.status == "keyless" and not accept_keyless:
        raise click.exceptions.Exit(AUDIT_KEYLESS)


@audit_group.command("anchor")
@click.option("--json", "as_json", is_flag=True, help="The head as JSON (seq, mac, log).")
def anchor_cmd(as_json: bool) -> None:
    """Print the log's current head (SEQ:MAC) after verifying it. Keep it off this host;
    `audit verify --anchor SEQ:MAC` later fails if the log was rolled back past it."""
    path = audit_log_path()
    result = get_state().manager().verify_audit_log(path)
    if result.status in ("tampered", "not_tamper_evident"):
        code = INTEGRITY if result.status == "tampered" else AUDIT_NOT_TAMPER_EVIDENT
        raise CliError(f"no head to anchor: {result.problem}", code)
    if result.head is None:
        raise CliError("no head to anchor yet: no authenticated event in the log", INTEGRITY)
    seq, mac = result.head
    if as_json:
        click.echo(json.dumps({"seq": seq, "mac": mac, "log": str(path)}, sort_keys=True))
    else:
        click.echo(f"{seq}:{mac}")
