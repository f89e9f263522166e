"""The env plugin's export for --env-file / Kubernetes (secure_secrets_env.export) and the
container story: a fresh process with only the exported variables and a key reference."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from secure_secrets_env.export import export_lines, export_mapping, kubernetes_secret
from secure_secrets_env.format import variable_name

from secrets_core.child_env import child_environment
from secrets_core.errors import ConfigError, InvalidSecretValueError, SecretNotFoundError
from secure_secrets import BackendType, SecureSecretsManager

CANARY = "CANARY-envapi-91c2-must-never-be-shown"
VALUES = {"db/password": CANARY, "api_key": "multi\nline ✓", "DATABASE_URL": "postgres://u@h/db"}


@pytest.fixture
def kek(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SECURE_SECRETS_KEK", key)
    return key


def populated(**kwargs: object) -> SecureSecretsManager:
    manager = SecureSecretsManager(**kwargs)  # type: ignore[arg-type]
    for name, value in VALUES.items():
        manager.store_secret(name, value)
    return manager


def docker_env_file(text: str) -> dict[str, str]:
    """How ``docker run --env-file`` reads a file: one VAR=value per line, taken literally
    (no quotes, no expansion); blank lines and lines starting with '#' are ignored."""
    env = {}
    for line in text.splitlines():
        line = line.lstrip()
        if line and not line.startswith("#"):
            variable, _, value = line.partition("=")
            env[variable] = value
    return env


def run_container(env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with exactly ``env`` (like ``env -i`` or a container)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


CANARY_DIGEST = hashlib.sha256(CANARY.encode()).hexdigest()
READ_IN_CONTAINER = f"""
    import os
    from secure_secrets import SecureSecretsManager
    from secure_secrets.exceptions import SecretAccessError
    m = SecureSecretsManager()
    assert m.default_backend == "env", m.default_backend
    # The expected value comes as a digest: a traceback (3.13 prints source lines) must not
    # show the canary itself.
    import hashlib
    digest = lambda v: hashlib.sha256(v.encode()).hexdigest()
    expected = {CANARY_DIGEST!r}
    assert digest(m.retrieve_secret("db/password")) == expected
    assert m.retrieve_secret("api_key") == {VALUES["api_key"]!r}
    assert sorted(m.list_secrets()) == ["DATABASE_URL", "api_key", "db/password"]
    assert not any(digest(v) == expected for v in os.environ.values())
    print("ok")
"""


# --- export -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_lines_are_env_backend_variables_with_tokens(kek: str) -> None:
    manager = populated(key_source="env")
    lines = export_lines(manager, ["db/password", "api_key"])
    assert [line.split("=", 1)[0] for line in lines] == [
        variable_name("db/password"),
        variable_name("api_key"),
    ]
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_]+=sse1:b:[A-Za-z0-9_-]+", line), "one safe line each"
        assert CANARY not in line
    # the env backend in this process reads them back
    os.environ.update(docker_env_file("\n".join(lines)))
    assert manager.retrieve_secret("db/password", backend_type="env") == CANARY


def test_export_uses_the_configured_env_prefix_or_the_given_one(kek: str) -> None:
    manager = populated(key_source="env", backends={"env": {"prefix": "APP_"}})
    assert export_lines(manager, ["api_key"])[0].startswith("APP_api__key=sse1:")
    assert export_lines(manager, ["api_key"], prefix="X_")[0].startswith("X_api__key=")
    with pytest.raises(ConfigError):
        export_lines(manager, ["api_key"], prefix="1bad")


def test_export_of_a_missing_secret_raises_not_found(kek: str) -> None:
    with pytest.raises(SecretNotFoundError):
        export_lines(populated(key_source="env"), ["nope"])


def test_export_from_the_env_backend_and_of_every_secret(kek: str) -> None:
    manager = SecureSecretsManager(key_source="env", default_backend=BackendType.ENV)
    manager.store_secret("a", "1")
    manager.store_secret("b/c", b"\x00\xff")
    mapping = export_mapping(manager, None)
    assert sorted(mapping) == [variable_name("a"), variable_name("b/c")]
    for variable in mapping:
        del os.environ[variable]
    os.environ.update(mapping)
    assert manager.retrieve_secret("b/c") == b"\x00\xff"


def test_plaintext_export_is_explicit_and_refuses_what_an_env_file_cannot_hold(
    kek: str,
) -> None:
    manager = populated(key_source="env")
    assert export_lines(manager, ["DATABASE_URL", "db/password"], ciphertext=False) == [
        "DATABASE_URL=postgres://u@h/db",
        f"DB_PASSWORD={CANARY}",
    ]
    with pytest.raises(InvalidSecretValueError, match="api_key") as info:
        export_lines(manager, ["api_key"], ciphertext=False)
    assert "multi" not in str(info.value)


# --- the container story -------------------------------------------------------------------------


@pytest.mark.slow
def test_docker_env_file_with_the_env_key_source(tmp_path: Path, kek: str) -> None:
    """``docker run --env-file secrets.env -e SECURE_SECRETS_KEK -v keyring:/keyring``:
    simulated by a fresh process whose environment is exactly what the container gets."""
    manager = populated(key_source="env")  # the file backend on the host
    env_file = tmp_path / "secrets.env"
    env_file.write_text("\n".join(export_lines(manager, list(VALUES))) + "\n")
    keyring_mount = tmp_path / "keyring"
    keyring_mount.mkdir()
    shutil.copy2(manager.settings.data_dir / "keyring.json", keyring_mount / "keyring.json")

    container_env = docker_env_file(env_file.read_text())
    assert len(container_env) == 3
    container_env.update(
        {
            "SECURE_SECRETS_KEK": kek,  # -e SECURE_SECRETS_KEK
            # baked into the image (Dockerfile ENV), see docs/containers.md:
            "SECURE_SECRETS_BACKEND": "env",
            "SECURE_SECRETS_KEY_SOURCE": "env",
            "SECURE_SECRETS_DATA_DIR": str(keyring_mount),
            "SECURE_SECRETS_AUDIT_SINKS": "logging",
            "HOME": str(tmp_path / "container-home"),
        }
    )
    result = run_container(container_env, READ_IN_CONTAINER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert CANARY not in result.stderr + env_file.read_text()
    assert sorted(os.listdir(keyring_mount)) == ["keyring.json"], "the mount is only read"

    without_key = {k: v for k, v in container_env.items() if k != "SECURE_SECRETS_KEK"}
    result = run_container(without_key, READ_IN_CONTAINER)
    assert result.returncode != 0 and "SECURE_SECRETS_KEK is not set" in result.stderr
    assert CANARY not in result.stderr


@pytest.mark.slow
def test_docker_env_file_with_a_mounted_key_file(tmp_path: Path) -> None:
    """The key as a mounted file (a Docker/Kubernetes secret file) named in a mounted
    config file: the environment holds only the tokens and SECURE_SECRETS_CONFIG."""
    manager = populated()  # default keyfile source: <data_dir>/master.key
    lines = export_lines(manager, list(VALUES))
    mount = tmp_path / "run-secrets"
    mount.mkdir()
    shutil.copy2(manager.settings.data_dir / "master.key", mount / "master.key")
    shutil.copy2(manager.settings.data_dir / "keyring.json", mount / "keyring.json")
    config = mount / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            default_backend = "env"
            data_dir = "{mount}"
            [key_source]
            name = "keyfile"
            path = "{mount / "master.key"}"
            [audit]
            sinks = ["logging"]
            """
        )
    )
    container_env = docker_env_file("\n".join(lines))
    container_env["SECURE_SECRETS_CONFIG"] = str(config)
    container_env["HOME"] = str(tmp_path / "container-home")
    result = run_container(container_env, READ_IN_CONTAINER)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_kubernetes_secret_data_is_exactly_the_export(tmp_path: Path, kek: str) -> None:
    manager = populated(key_source="env")
    exported = export_mapping(manager, list(VALUES))
    manifest = kubernetes_secret(exported, "app-secrets", namespace="prod")
    assert manifest.startswith("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets\n")
    assert "  namespace: prod\n" in manifest and "\ntype: Opaque\ndata:\n" in manifest
    data_section = manifest.split("\ndata:\n", 1)[1]
    data = dict(re.findall(r"^  ([A-Za-z0-9_]+): ([A-Za-z0-9+/=]+)$", data_section, re.M))
    assert len(data) == len(data_section.splitlines()) == 3
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert decoded == exported, "data values must be exactly the exported tokens"
    assert kubernetes_secret([f"{k}={v}" for k, v in exported.items()], "app-secrets") == (
        kubernetes_secret(exported, "app-secrets")
    )
    assert CANARY not in manifest
    # envFrom: secretRef gives the container the decoded data as variables
    pod_env = dict(decoded)
    keyring_mount = tmp_path / "keyring"
    keyring_mount.mkdir()
    shutil.copy2(manager.settings.data_dir / "keyring.json", keyring_mount / "keyring.json")
    pod_env.update(
        SECURE_SECRETS_KEK=kek,
        SECURE_SECRETS_BACKEND="env",
        SECURE_SECRETS_KEY_SOURCE="env",
        SECURE_SECRETS_DATA_DIR=str(keyring_mount),
        SECURE_SECRETS_AUDIT_SINKS="logging",
        HOME=str(tmp_path / "pod-home"),
    )
    result = run_container(pod_env, READ_IN_CONTAINER)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("exported", "name"),
    [({"PLAIN": "value"}, "ok"), ({"A_B": "sse1:b:x"}, "Bad_Name"), (["X=1"], "ok")],
)
def test_kubernetes_secret_refuses_what_is_not_an_export(exported: object, name: str) -> None:
    with pytest.raises(ConfigError):
        kubernetes_secret(exported, name)  # type: ignore[arg-type]


# --- child environments ------------------------------------------------------------------------


def our_frame_locals(exc: BaseException) -> list[str]:
    """repr() of every local in the traceback's frames (SecretValue masks itself)."""
    found = []
    tb = exc.__traceback__
    while tb is not None:
        found += [repr(v) for v in list(tb.tb_frame.f_locals.values())]
        tb = tb.tb_next
    return found


def test_failures_keep_values_gathered_so_far_out_of_traceback_locals(kek: str) -> None:
    manager = SecureSecretsManager(key_source="env")
    manager.store_secret("good", CANARY)
    manager.store_secret("nul", CANARY + "\0")
    manager.store_secret("multi", CANARY + "\n")
    for call in (
        lambda: child_environment(manager, ["good", "nul"], base={}),
        lambda: export_lines(manager, ["good", "multi"], ciphertext=False),
        lambda: export_lines(manager, ["good", "nul"], ciphertext=False),
    ):
        with pytest.raises(InvalidSecretValueError) as info:
            call()
        assert not any(CANARY in local for local in our_frame_locals(info.value))
        assert info.value.__context__ is None and CANARY not in str(info.value)


@pytest.mark.slow
def test_the_export_env_verb_prints_tokens_a_fresh_env_backend_reads() -> None:
    from click.testing import CliRunner

    from secrets_core.cli.app import cli

    populated()
    runner = CliRunner()
    result = runner.invoke(cli, ["export-env"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert CANARY not in result.output
    env = docker_env_file(result.stdout)
    assert set(env) == {variable_name(name) for name in VALUES}
    assert all(token.startswith("sse1:") for token in env.values())
    for variable in env:
        os.environ.pop(variable, None)
    os.environ.update(env)
    reader = SecureSecretsManager(default_backend="env")
    assert reader.retrieve_secret("db/password") == CANARY

    manifest = runner.invoke(cli, ["export-env", "--kubernetes", "app", "--namespace", "prod"])
    assert manifest.exit_code == 0 and "kind: Secret" in manifest.stdout
    assert "namespace: prod" in manifest.stdout and CANARY not in manifest.stdout
    assert runner.invoke(cli, ["export-env", "--namespace", "prod"]).exit_code == 2
