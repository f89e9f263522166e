"""Verbs on keys and configuration bootstrap: init, rotate-key, change-passphrase."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from secrets_core.cli.errors import CONFIG, CliError
from secrets_core.cli.state import echo_json, get_state, json_option, stdin_is_tty
from secrets_core.defaults import ENV_PASSPHRASE

KEY_SOURCES = {
    "keyfile": "a random key in a 0600 file in the data dir (default; back the file up)",
    "passphrase": "a key derived from a passphrase (prompted, or $SECURE_SECRETS_PASSPHRASE)",
    "env": "a base64 key in $SECURE_SECRETS_KEK (containers, CI)",
}


def render_config(backend: str, key_source: str) -> str:
    """The TOML that ``init`` writes."""
    return (
        "# secure-secrets configuration, written by `secure-secrets init`.\n"
        "# `secure-secrets config show` prints every key in effect, defaults included.\n"
        f'default_backend = "{backend}"\n'
        "\n"
        "[key_source]\n"
        f'name = "{key_source}"\n'
    )


def _choose_key_source() -> str:
    from secrets_core.cli.prompting import choose

    click.echo("Where should the key that protects your secrets come from?", err=True)
    for name, description in KEY_SOURCES.items():
        click.echo(f"  {name:<11} {description}", err=True)
    return choose("Key source", list(KEY_SOURCES), default="keyfile")


@click.command("init")
@click.option(
    "--key-source",
    type=click.Choice(list(KEY_SOURCES)),
    help="Where the key-encryption key comes from (asked on a terminal; default keyfile).",
)
@click.option(
    "--backend",
    "init_backend",
    metavar="NAME",
    help="Default backend to write into the config (default: the global --backend, or file).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@json_option("Print {config_file, keyring, key_id, key_source, created} as JSON.")
def init_cmd(key_source: str | None, init_backend: str | None, force: bool, as_json: bool) -> None:
    """Write a config file and create the key.

    An existing keyring is kept (never replaced): init then checks that it unlocks with the
    chosen key source.
    """
    state = get_state()
    path = state.config_path()
    backend = init_backend or state.backend or "file"
    if path.exists() and not force:
        raise CliError(
            f"config file {path} already exists; use --force to overwrite it, or "
            "`secure-secrets config show` to see it",
            CONFIG,
        )
    if key_source is None:
        key_source = _choose_key_source() if stdin_is_tty() else "keyfile"

    from secrets_core.fsutil import atomic_write, ensure_private_dir
    from secrets_core.manager import SecretsManager

    previous = path.read_bytes() if path.exists() else None
    ensure_private_dir(path.parent)
    atomic_write(path, render_config(backend, key_source).encode())
    try:
        with SecretsManager(config_path=path) as manager:
            manager.registry.backend(backend)  # installed?
            existed = manager.keyring_path.exists()
            key_id = manager.initialize_keys()
            keyring = manager.keyring_path
    except BaseException:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, previous)
        raise
    if as_json:
        echo_json({"config_file": str(path), "keyring": str(keyring), "key_id": key_id,
                   "key_source": key_source, "created": not existed})  # fmt: skip
        return
    click.echo(f"config written to {path}")
    if existed:
        click.echo(f"existing keyring {keyring} unlocks with key source '{key_source}'")
    else:
        click.echo(f"created keyring {keyring} (primary key {key_id}), key source '{key_source}'")
    if key_source == "keyfile" and not existed:
        state.info(
            f"back up {keyring.parent / 'master.key'} and {keyring}: without them the secrets "
            "cannot be decrypted"
        )


class _Progress:
    """Rotation progress on stderr: a bar per backend on a terminal; otherwise (a log, CI) a
    line ``rotate-key: <backend> <done>/<total>`` every ``every`` seconds and at the end of
    each backend."""

    def __init__(self, terminal: bool, every: float, enabled: bool = True) -> None:
        self.terminal = terminal
        self.every = every
        self.enabled = enabled
        self.bars: dict[str, Any] = {}
        self.last_line = time.monotonic()

    def __call__(self, backend: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.terminal:
            now = time.monotonic()
            if done == total or now - self.last_line >= self.every:
                self.last_line = now
                click.echo(f"rotate-key: {backend} {done}/{total} re-encrypted", err=True)
            return
        bar = self.bars.get(backend)
        if bar is None:
            bar = click.progressbar(length=total, label=f"re-encrypting {backend}", file=sys.stderr)
            bar.__enter__()
            self.bars[backend] = bar
        bar.update(done - bar.pos)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.__exit__(None, None, None)
        self.bars.clear()


@click.command("rotate-key")
@click.option(
    "--keep-old-keys",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="How many older data keys to keep (to read old backups).",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Off a terminal: a progress line on stderr this often (0: after every secret).",
)
@json_option(
    "Print {new_key_id, retired_key_ids, resumed, backends: {NAME: {rotated, skipped, "
    "failed}}, event_id} as JSON."
)
def rotate_key_cmd(keep_old_keys: int, progress_every: float, as_json: bool) -> None:
    """Make a new data key and re-encrypt every secret under it.

    Safe to interrupt: old keys are retired only once every secret decrypts under the new
    one, and running rotate-key again resumes an unfinished rotation.
    """
    state = get_state()
    progress = _Progress(sys.stderr.isatty(), progress_every, enabled=not state.quiet)
    try:
        event = state.manager().rotate_encryption_key(
            progress=progress, keep_old_keys=keep_old_keys
        )
    finally:
        progress.close()
    details = event.details
    backends = details.get("backends", {})
    retired = details.get("retired_key_ids", [])
    if as_json:
        echo_json({"new_key_id": details.get("new_key_id"), "retired_key_ids": retired,
                   "resumed": bool(details.get("resumed")), "backends": backends,
                   "event_id": event.event_id})  # fmt: skip
        return
    if details.get("resumed"):
        state.info("resumed an unfinished rotation")
    for backend, counts in sorted(backends.items()):
        click.echo(
            f"{backend}: {counts['rotated']} re-encrypted, {counts['skipped']} unchanged, "
            f"{counts['failed']} failed"
        )
    click.echo(f"primary key {details.get('new_key_id')}; {len(retired)} old key(s) retired")


@click.command("change-passphrase")
@click.option(
    "--rotate",
    "rotate_now",
    is_flag=True,
    help="Also re-encrypt every stored value and retire the old data keys, so an old keyring "
    "backup with the old passphrase opens nothing.",
)
def change_passphrase_cmd(rotate_now: bool) -> None:
    """Protect the keys with a new passphrase (asked twice).

    New values are sealed under a fresh data key; with --rotate every stored value is
    re-encrypted too. The current passphrase comes from $SECURE_SECRETS_PASSPHRASE or a
    prompt. Without a terminal the new passphrase is read from stdin, twice, one line each.
    """
    state = get_state()
    manager = state.manager()
    source = manager.settings.key_source
    if source != "passphrase":
        raise CliError(
            f"the configured key source is '{source}', not 'passphrase'; change-passphrase "
            "re-protects a passphrase keyring",
            CONFIG,
        )

    manager.key_ids()  # the current passphrase first, so a typo fails before asking the new one
    from secrets_core.cli.prompting import ask_twice

    new = ask_twice("New passphrase")
    manager.change_passphrase(new, rotate=rotate_now)
    del new
    variable = manager.settings.key_source_options.get("variable") or ENV_PASSPHRASE
    state.info(f"passphrase changed; update ${variable} wherever it is set")


@click.command("verify-keys")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_keys_cmd(as_json: bool) -> None:
    """Check that every stored value can be opened with the keyring.

    Reads the data key id of every stored ciphertext (every version, soft-deleted secrets
    too) in every store sealed with the keyring, without decrypting, and names the secrets
    under a key the keyring does not hold. Exits 6 if there are any, 7 if a store could not
    be checked, 0 when all is well.
    """
    from secrets_core.cli.exitcodes import INTEGRITY, UNAVAILABLE
    from secrets_core.rotation import verify_keys

    state = get_state()
    report = verify_keys(state.manager().assembly)
    ok = not (report.unopenable or report.rolled_back or report.problems)
    if as_json:
        from secrets_core.cli.state import echo_json

        echo_json(
            {
                "ok": ok,
                "checked": dict(report.checked),
                "unopenable": [
                    {"store": store, "secret": name, "reason": why}
                    for store, name, why in report.unopenable
                ],
                "rolled_back": dict(report.rolled_back),
                "not_checked": dict(report.problems),
            }
        )
    for store, count in sorted(report.checked.items()) if not as_json else ():
        state.info(f"{store}: {count} stored value(s) checked")
    for store, name, why in report.unopenable if not as_json else ():
        click.echo(f"FAIL  {store}: secret '{name}' cannot be opened: {why}")
    for store, why in sorted(report.rolled_back.items()) if not as_json else ():
        click.echo(f"FAIL  {store}: {why}")
    for store, why in sorted(report.problems.items()) if not as_json else ():
        click.echo(f"FAIL  {store}: not checked: {why}")
    if report.unopenable or report.rolled_back:
        state.info("restore the newest keyring.json (or the secrets) from backup")
        click.get_current_context().exit(INTEGRITY)
    if report.problems:
        click.get_current_context().exit(UNAVAILABLE)
    if not as_json:
        click.echo("every stored value names a data key the keyring holds")
