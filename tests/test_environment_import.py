"""Migration from a plaintext .env (secrets_core.dotenv_import.import_dotenv): dry run, import
into any backend, rewrite with a 0600 backup, nothing lost on a failure partway, and no value
in any report, log or exception."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from secrets_core.dotenv_import import DotenvImportError, ImportReport, import_dotenv
from secrets_core.envfile import EnvFileError
from secrets_core.errors import ConfigError, LockTimeoutError, SecretNotFoundError
from secure_secrets import SecureSecretsManager

C1 = "CANARY-dotenv-1-a81f"
C2 = "CANARY-dotenv-2-b92e"
C3 = "CANARY-dotenv-3-c03d"
CANARIES = (C1, C2, C3)
DOTENV = f"""\
# production settings
DATABASE_URL=postgres://app:{C1}@db/app
export STRIPE_KEY="{C2}"   # billing
not:a:name=kept-as-is

API_TOKEN='{C3}'
DEBUG
"""


@pytest.fixture
def dotenv(tmp_path: Path) -> Path:
    path = tmp_path / "project" / ".env"
    path.parent.mkdir()
    path.write_text(DOTENV)
    return path


def no_canary(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text


def test_dry_run_lists_names_backend_and_existence_never_values(
    dotenv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("STRIPE_KEY", "already here")
    with caplog.at_level(logging.DEBUG):
        report = import_dotenv(manager, dotenv)  # dry_run is the default
    assert report.dry_run and not report.rewritten
    rows = {e.key: (e.name, e.backend, e.exists, e.status, e.line) for e in report.entries}
    assert rows == {
        "DATABASE_URL": ("DATABASE_URL", "file", False, "would import", 2),
        "STRIPE_KEY": ("STRIPE_KEY", "file", True, "skipped", 3),
        "not:a:name": (None, "file", None, "skipped", 4),
        "API_TOKEN": ("API_TOKEN", "file", False, "would import", 6),
        "DEBUG": ("DEBUG", "file", False, "skipped", 7),
    }
    no_canary(str(report), repr(report), caplog.text, report.path.read_text()[:0])
    assert "DATABASE_URL" in str(report) and "would import" in str(report)
    assert dotenv.read_text() == DOTENV
    assert manager.list_secrets() == ["STRIPE_KEY"], "a dry run stores nothing"


def test_import_into_the_file_backend(dotenv: Path) -> None:
    manager = SecureSecretsManager()
    report = import_dotenv(manager, dotenv, dry_run=False)
    assert report.imported == ["DATABASE_URL", "STRIPE_KEY", "API_TOKEN"]
    assert report.skipped == ["not:a:name", "DEBUG"]
    assert manager.retrieve_secret("DATABASE_URL") == f"postgres://app:{C1}@db/app"
    assert manager.retrieve_secret("STRIPE_KEY") == C2
    assert manager.retrieve_secret("API_TOKEN") == C3
    assert dotenv.read_text() == DOTENV, "without rewrite the file is left alone"
    no_canary(str(report), repr(report))


def test_existing_secrets_are_skipped_unless_overwrite(dotenv: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("STRIPE_KEY", "old")
    report = import_dotenv(manager, dotenv, dry_run=False)
    assert "STRIPE_KEY" not in report.imported
    assert manager.retrieve_secret("STRIPE_KEY") == "old"
    report = import_dotenv(manager, dotenv, dry_run=False, overwrite=True)
    assert "STRIPE_KEY" in report.imported
    assert manager.retrieve_secret("STRIPE_KEY") == C2


def test_rewrite_for_the_env_backend_leaves_only_ciphertext(dotenv: Path, tmp_path: Path) -> None:
    manager = SecureSecretsManager(default_backend="env")
    report = import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
    assert report.rewritten and report.backup is not None
    text = dotenv.read_text()
    no_canary(text, str(report))
    assert text.startswith("# production settings\n")
    assert "not:a:name=kept-as-is\n" in text and "\nDEBUG\n" in text
    for name in ("DATABASE_URL", "STRIPE_KEY", "API_TOKEN"):
        variable = "SECURE_SECRET_" + name.replace("_", "__")  # docs/containers.md's mapping
        assert f"{variable}=sse1:b:" in text
        assert f"{name}=" not in text
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    assert report.backup.read_text() == DOTENV, "the backup is the original, byte for byte"
    assert stat.S_IMODE(report.backup.stat().st_mode) == 0o600
    # a later process reads the rewritten file through the env backend
    for variable in list(os.environ):
        if variable.startswith("SECURE_SECRET_"):
            del os.environ[variable]
    later = SecureSecretsManager(default_backend="env", backends={"env": {"env_file": str(dotenv)}})
    assert later.retrieve_secret("STRIPE_KEY") == C2
    assert later.retrieve_secret("DATABASE_URL") == f"postgres://app:{C1}@db/app"


def test_rewrite_for_another_backend_leaves_references(dotenv: Path) -> None:
    manager = SecureSecretsManager()
    report = import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
    text = dotenv.read_text()
    no_canary(text)
    assert "# DATABASE_URL: moved to secure-secrets (secret 'DATABASE_URL', backend 'file')" in (
        text
    )
    assert report.backup is not None and report.backup.name.startswith(".env.")


def test_dry_run_with_rewrite_changes_nothing(dotenv: Path) -> None:
    manager = SecureSecretsManager()
    report = import_dotenv(manager, dotenv, rewrite=True)
    assert not report.rewritten and dotenv.read_text() == DOTENV
    assert list(dotenv.parent.iterdir()) == [dotenv], "no backup in a dry run"


def test_a_failure_partway_leaves_the_file_untouched_and_reports_progress(
    dotenv: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = SecureSecretsManager()
    write = manager.backend().write
    held = {"STRIPE_KEY"}  # another writer holds this secret's lock for now

    def busy(name: str, value: bytes | str, **kwargs: Any) -> int:
        if name in held:
            raise LockTimeoutError(f"secret '{name}' is locked by another process; retry")
        return write(name, value, **kwargs)

    monkeypatch.setattr(manager.backend(), "write", busy)
    with caplog.at_level(logging.DEBUG), pytest.raises(DotenvImportError) as info:
        import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
    report = info.value.report
    assert isinstance(report, ImportReport)
    assert report.imported == ["DATABASE_URL"]
    statuses = {e.key: e.status for e in report.entries}
    assert statuses["STRIPE_KEY"] == "not imported" and statuses["API_TOKEN"] == "not imported"
    assert "imported so far: DATABASE_URL" in str(info.value)
    assert "LockTimeoutError" in str(info.value)
    assert dotenv.read_text() == DOTENV, "the original file must be untouched"
    assert list(dotenv.parent.iterdir()) == [dotenv]
    no_canary(str(info.value), repr(info.value), str(report), caplog.text)
    with pytest.raises(SecretNotFoundError):
        manager.retrieve_secret("API_TOKEN")
    # running it again once the problem is gone completes the migration
    held.clear()
    report = import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
    assert report.imported == ["STRIPE_KEY", "API_TOKEN"] and report.rewritten
    statuses = {e.key: e.status for e in report.entries}
    assert statuses["DATABASE_URL"] == "already imported"
    no_canary(dotenv.read_text())
    assert "# DATABASE_URL: moved to secure-secrets" in dotenv.read_text()


def test_rewrite_keeps_the_line_of_an_existing_secret_with_another_value(dotenv: Path) -> None:
    manager = SecureSecretsManager()
    manager.store_secret("STRIPE_KEY", "a different value")
    report = import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
    statuses = {e.key: e.status for e in report.entries}
    assert statuses["STRIPE_KEY"] == "skipped"
    assert f'export STRIPE_KEY="{C2}"   # billing\n' in dotenv.read_text(), "nothing is lost"
    assert manager.retrieve_secret("STRIPE_KEY") == "a different value"


def test_a_malformed_dotenv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"A=1\n\nB='{C1}\n")
    with pytest.raises(EnvFileError, match="line 3") as info:
        import_dotenv(SecureSecretsManager(), path)
    no_canary(str(info.value))


def test_missing_file_and_importing_into_the_env_backends_own_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no .env file"):
        import_dotenv(SecureSecretsManager(), tmp_path / "absent.env")
    path = tmp_path / ".env"
    path.write_text("A=1\n")
    manager = SecureSecretsManager(backends={"env": {"env_file": str(path)}})
    with pytest.raises(ConfigError, match="keeps its secrets in"):
        import_dotenv(manager, path, backend_type="env", dry_run=False)
    assert path.read_text() == "A=1\n"


def test_interpolation_matches_load_dotenv_and_can_be_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env"
    path.write_text("HOST=db\nURL=postgres://${HOST}/app\n")
    manager = SecureSecretsManager()
    import_dotenv(manager, path, dry_run=False)
    assert manager.retrieve_secret("URL") == "postgres://db/app"
    import_dotenv(manager, path, dry_run=False, overwrite=True, interpolate=False)
    assert manager.retrieve_secret("URL") == "postgres://${HOST}/app"


def test_duplicate_keys_import_the_last_and_rewrite_removes_all(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"K={C1}\nOTHER=1\nK={C2}\n")
    manager = SecureSecretsManager()
    report = import_dotenv(manager, path, dry_run=False, rewrite=True)
    assert [(e.key, e.line) for e in report.entries] == [("K", 3), ("OTHER", 2)]
    assert manager.retrieve_secret("K") == C2
    no_canary(path.read_text())


def test_after_a_rewrite_the_plaintext_is_only_in_the_backup(
    dotenv: Path, tmp_path: Path, isolated_home: Path
) -> None:
    """Every file under the test's directory (the .env, the store, keyring, audit log) is
    searched for the canaries; only the 0600 backup may hold them."""
    for backend in ("file", "env"):
        dotenv.write_text(DOTENV)
        for backup in dotenv.parent.glob(".env.*.bak"):
            backup.unlink()
        manager = SecureSecretsManager(default_backend=backend, data_dir=tmp_path / backend)
        report = import_dotenv(manager, dotenv, dry_run=False, rewrite=True)
        assert report.backup is not None
        holders = [
            path
            for path in tmp_path.rglob("*")
            if path.is_file() and any(c.encode() in path.read_bytes() for c in CANARIES)
        ]
        assert holders == [report.backup], backend
        assert any(isolated_home.rglob("*.jsonl")), "the audit log was searched too"
