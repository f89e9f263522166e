"""``doctor``: find what is wrong with this installation and say what to do about it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from secrets_core.cli.output import visible
from secrets_core.cli.state import echo_json, get_state, json_option
from secrets_core.defaults import audit_log_path, key_file_path, keyring_path
from secrets_core.fsutil import read_private_file

if TYPE_CHECKING:
    from secrets_core.manager import SecretsManager


@dataclass(frozen=True)
class Finding:
    check: str
    problem: str = ""  # empty: the check passed
    fix: str = ""
    note: str = ""


def _mode_finding(check: str, path: Path, private: int) -> Finding:
    """``private`` is 0o700 for directories, 0o600 for files."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Finding(check, note=f"{path} does not exist yet")
    if stat.S_ISLNK(info.st_mode):
        return Finding(check, f"{path} is a symlink", "point the config at the real path")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Finding(
            check,
            f"{path} has mode {mode:04o}: others may read it",
            f"chmod {private:o} {path}",
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return Finding(check, f"{path} is owned by uid {info.st_uid}", "chown it to yourself")
    return Finding(check, note=f"{path} ({mode:04o})")


def _permission_checks(manager: SecretsManager) -> list[Finding]:
    settings = manager.settings
    data = settings.data_dir
    findings = [_mode_finding("data directory", data, 0o700)]
    if settings.key_source == "keyfile":
        key = Path(settings.key_source_options.get("path") or key_file_path(data)).expanduser()
        if isinstance(settings.key_source_options.get("path"), (str, type(None))):
            findings.append(_mode_finding("key file", key, 0o600))
    findings.append(_mode_finding("keyring", keyring_path(data), 0o600))
    findings += _backend_path_checks(manager)
    for sink in settings.audit_sinks:
        if sink.name == "jsonl":
            path = sink.options.get("path")
            audit = Path(path).expanduser() if isinstance(path, str) else None
            findings.append(
                _mode_finding("audit log", audit or audit_log_path(settings.log_dir), 0o600)
            )
    config = settings.config_file
    if config is not None and config.exists():
        mode = stat.S_IMODE(config.stat().st_mode)
        if mode & 0o022:
            findings.append(
                Finding(
                    "config file",
                    f"{config} has mode {mode:04o}: others may change it",
                    f"chmod 600 {config}",
                )
            )
        else:
            findings.append(Finding("config file", note=f"{config} ({mode:04o})"))
    return findings


def _backend_path_checks(manager: SecretsManager) -> list[Finding]:
    """The paths each configured backend declares (its descriptor's ``paths``) are private.
    A backend that cannot be looked up is left to the backend check."""
    from secrets_core.errors import SecretsError

    findings = []
    for name in manager.assembly.configured_backend_names():
        try:
            paths = manager.assembly.backend_paths(name)
        except SecretsError:
            continue
        for label, path in paths.items():
            findings.append(_mode_finding(label, path, 0o700 if path.is_dir() else 0o600))
    return findings


def _guard(check: str, action: Callable[[], Finding], fix: str) -> Finding:
    """The finding of ``action``; a library error is a problem with ``fix``, except a missing
    plugin, whose fix is installing the distribution its message names."""
    from secrets_core.errors import PluginNotFoundError, SecretsError

    try:
        return action()
    except PluginNotFoundError as exc:
        problem, _, install = str(exc).partition("; install it with: ")
        return Finding(check, problem, install or "install the plugin that provides it")
    except SecretsError as exc:
        return Finding(check, str(exc), fix)


def _plugin_checks(manager: SecretsManager) -> list[Finding]:
    failed = [info for info in manager.registry.plugins() if info.status == "failed"]
    if not failed:
        return [Finding("plugins", note=f"{len(manager.registry.plugins())} loaded or blocked")]
    return [
        Finding(
            f"plugin {info.name}",
            f"{info.distribution} {info.version} failed to load: {info.error}",
            f"reinstall or upgrade {info.distribution}, or block it (plugins.block)",
        )
        for info in failed
    ]


def _key_check(manager: SecretsManager) -> list[Finding]:

    if not manager.keyring_path.exists():
        return [Finding("key source", note="no keyring yet (secure-secrets init creates it)")]

    def load() -> Finding:
        ids = manager.key_ids()
        return Finding(
            "key source", note=f"'{manager.settings.key_source}' unlocks {len(ids)} data key(s)"
        )

    findings = [
        _guard("key source", load, "restore the key or set the key source's variable, see above")
    ]
    if findings[0].problem:
        return findings

    def pending() -> Finding:
        target = manager.rotation_pending()
        if target:
            return Finding(
                "key rotation",
                f"a rotation to key {target} did not finish",
                "run: secure-secrets rotate-key (it resumes)",
            )
        return Finding("key rotation", note="none pending")

    findings.append(_guard("key rotation", pending, "run: secure-secrets rotate-key"))
    findings += _stored_keys_check(manager)
    return findings


def _stored_keys_check(manager: SecretsManager) -> list[Finding]:
    """Every stored ciphertext names a key the keyring holds; no store saw a newer keyring."""
    from secrets_core.rotation import verify_keys

    report = verify_keys(manager.assembly)
    findings = [
        Finding(
            f"stored keys ({store})",
            f"secret '{name}' cannot be opened: {why}",
            "put the newest keyring.json back (see secure-secrets verify-keys)",
        )
        for store, name, why in report.unopenable
    ]
    findings += [
        Finding(f"stored keys ({store})", why, "put the newest keyring.json back")
        for store, why in sorted(report.rolled_back.items())
    ]
    findings += [
        Finding(f"stored keys ({store})", why, "fix the store, then run secure-secrets verify-keys")
        for store, why in sorted(report.problems.items())
    ]
    total = sum(report.checked.values())
    return findings or [Finding("stored keys", note=f"{total} stored value(s) name known keys")]


def _backend_check(manager: SecretsManager) -> Finding:
    from secrets_core.plugin._api import Capability

    name = manager.default_backend

    def reach() -> Finding:
        if Capability.LIST in manager.backend_capabilities(name):
            # the backend itself, not an audited list: a failing sink is the sinks' finding
            count = len(manager.assembly.backend(name)[1].list_names(""))
            return Finding(f"backend {name}", note=f"reachable, {count} secret(s)")
        return Finding(f"backend {name}", note="configured")

    return _guard(
        f"backend {name}", reach, f"check [backends.{name}]; see: secure-secrets config validate"
    )


def _audit_checks(manager: SecretsManager) -> list[Finding]:
    """Each configured sink checked itself (its ``check()``), and the audit log's state:
    chained, anchored, events written without the key, the last verified head."""
    from secrets_core.errors import SecretsError

    try:
        trail = manager.assembly.audit_trail()
    except SecretsError as exc:
        return [Finding("audit sinks", str(exc), "see: secure-secrets config validate")]
    findings = []
    failing = dict(trail.check())
    for name in trail.sinks:
        if name in failing:
            fix = f"fix the sink's target, or its [audit.{name}] table (required = false to go on)"
            findings.append(Finding(f"audit sink {name}", f"cannot record: {failing[name]}", fix))
        else:
            findings.append(Finding(f"audit sink {name}", note="can record"))
    if "jsonl" not in trail.sinks:
        return findings
    try:
        result = manager.verify_audit_log()
    except SecretsError as exc:
        return [*findings, Finding("audit log", str(exc), "see: secure-secrets audit verify")]
    state = f"{result.events} events, {result.chained} chained"
    state += ", anchored" if result.anchored else ", not anchored yet"
    if result.head:
        state += f", last verified head {result.head[0]}:{result.head[1][:16]}…"
    if result.status == "tampered":
        problem = f"fails verification: {result.problem} [{result.reason}]"
        findings.append(Finding("audit log", problem, "see docs/audit.md, Recovering"))
    elif result.status == "not_tamper_evident":
        findings.append(
            Finding("audit log", f"{state}; not tamper-evident", "run: secure-secrets init")
        )
    else:
        keyless = sum(1 for event in result.keyless if not event.get("before_key"))
        if keyless:
            state += f", {keyless} written without the audit key (audit verify lists them)"
        findings.append(Finding("audit log", note=state))
    return findings


def _kdf_checks(manager: SecretsManager) -> list[Finding]:
    from secrets_core.defaults import DEFAULT_KDF

    settings = manager.settings
    params = dict(settings.kdf)
    name = str(params.pop("name", DEFAULT_KDF))

    def configured() -> Finding:
        manager.registry.kdf(name).factory(params)
        return Finding("kdf settings", note=f"[kdf] {name} within the floors")

    findings = [
        _guard("kdf settings", configured, "raise the [kdf] parameters to at least the floors")
    ]
    path = manager.keyring_path
    if not path.exists():
        return findings
    try:
        source = json.loads(read_private_file(path)).get("key_source", {})
        stored = source.get("params", {})
    except (OSError, ValueError, AttributeError, RecursionError):
        return findings  # the key source check reports a corrupt keyring
    if isinstance(stored, dict) and "kdf" in stored:

        def keyring_kdf() -> Finding:
            manager.registry.kdf(str(stored["kdf"])).factory(stored.get("kdf_params") or {})
            return Finding("keyring kdf", note=f"{stored['kdf']} within the floors")

        findings.append(
            _guard(
                "keyring kdf",
                keyring_kdf,
                "run: secure-secrets change-passphrase (re-derives with the [kdf] settings)",
            )
        )
    return findings


def _configuration_notes(manager: SecretsManager) -> list[Finding]:
    """How the least-privilege, alerting, profile and dynamic-secret features are set up:
    notes, not problems (each is optional)."""
    settings = manager.settings
    policies = settings.policies
    grants = ", ".join(
        f"{name} (read {len(p.read)}, write {len(p.write)})" for name, p in sorted(policies.items())
    )
    sinks = [sink.name for sink in settings.audit_sinks]
    alerts = next((s for s in settings.audit_sinks if s.name == "alerts"), None)
    rules = ", ".join(f"{k}={v}" for k, v in sorted(alerts.options.items())) if alerts else ""
    profiles = ", ".join(settings.profiles) or "none defined"
    return [
        Finding("access policies", note=grants or "none defined ([policies.NAME] in the config)"),
        Finding(
            "alerts",
            note=(f"on ({rules or 'default rules'})" if alerts else "off")
            + f"; audit sinks: {', '.join(sinks) or 'none'}",
        ),
        Finding("profile", note=f"{settings.profile or 'none'} (profiles: {profiles})"),
        Finding("dynamic secrets", note=_dynamic_note(manager)),
        *_verb_checks(manager),
    ]


def _dynamic_note(manager: SecretsManager) -> str:
    """Which configured backends issue dynamic credentials (their descriptor's ``dynamic``)."""
    from secrets_core.errors import SecretsError

    issuing = []
    for name in manager.assembly.configured_backend_names():
        try:
            if manager.registry.backend(name).dynamic is not None:
                issuing.append(f"[backends.{name}]")
        except SecretsError:
            continue
    if issuing:
        return f"available through {', '.join(issuing)} (run --dynamic VAR=PATH)"
    return "no configured backend issues them (see docs/dynamic-secrets.md)"


def _verb_checks(manager: SecretsManager) -> list[Finding]:
    """Plugin verbs: a clash with a core verb (or between plugins) is a problem."""
    from secrets_core.cli.app import plugin_verbs

    verbs, clashes = plugin_verbs(manager.registry)
    if not clashes:
        return [Finding("plugin verbs", note=", ".join(sorted(verbs)) or "none")]
    return [
        Finding("plugin verbs", clash, "rename or block one of the plugins (plugins.block)")
        for clash in clashes
    ]


def _profile_checks(config: Path | None) -> list[Finding]:
    """Profiles must not share key material (one environment's key would open another's)."""
    from secrets_core.config import shared_keys

    shared = shared_keys(config)
    if not shared:
        return [Finding("profiles", note="no two profiles share key material")]
    return [
        Finding("profiles", problem, "give each profile its own data_dir and key")
        for problem in shared
    ]


@click.command("doctor")
@json_option(
    'Print {"ok", "problems", "checks": [{"check", "ok", "problem", "fix", "note"}]} as JSON.'
)
def doctor_cmd(as_json: bool) -> None:
    """Check permissions, the key source, the backend, plugins and KDF settings.

    Prints each problem with what to do; exits 1 if there is any, 0 when all is well.
    """
    from secrets_core.errors import SecretsError

    state = get_state()
    findings: list[Finding] = []
    try:
        manager = state.manager()
    except SecretsError as exc:
        findings.append(Finding("config", str(exc), "correct the config where the message says"))
        manager = None
    if manager is not None:
        findings += _permission_checks(manager)
        findings += _plugin_checks(manager)
        findings += _key_check(manager)
        findings.append(_backend_check(manager))
        findings += _audit_checks(manager)
        findings += _kdf_checks(manager)
        findings += _profile_checks(state.config)
        findings += _configuration_notes(manager)
    problems = [f for f in findings if f.problem]
    if as_json:
        checks = [{**asdict(f), "ok": not f.problem} for f in findings]
        echo_json({"ok": not problems, "problems": len(problems), "checks": checks})
        click.get_current_context().exit(1 if problems else 0)
    for finding in findings:
        if finding.problem:
            click.echo(f"FAIL  {visible(finding.check)}: {visible(finding.problem)}")
            click.echo(f"      fix: {visible(finding.fix)}")
        elif not state.quiet:
            note = f": {visible(finding.note)}" if finding.note else ""
            click.echo(f"ok    {visible(finding.check)}{note}")
    if problems:
        state.info(f"{len(problems)} problem(s) found")
        click.get_current_context().exit(1)
    state.info("no problems found")
