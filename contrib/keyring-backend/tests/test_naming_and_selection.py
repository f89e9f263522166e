"""The naming scheme is reversible and always a valid secret name; the backend is registered
through keyring's entry point group and is chosen only when selected."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import keyring.backend
import keyring.core
import pytest
from hypothesis import given
from hypothesis import strategies as st
from secure_secrets_keyring_backend import SecureSecretsKeyring, pair_of, secret_name
from secure_secrets_keyring_backend.backend import PRIORITY

from secrets_core.names import MAX_NAME_LENGTH, validate_name

TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.text(max_size=40)


@given(TEXT, TEXT)
def test_every_pair_maps_to_a_valid_name_and_back(service: str, username: str) -> None:
    name = secret_name(service, username)
    if len(name) <= MAX_NAME_LENGTH:
        assert validate_name(name) == name
    assert pair_of(name) == (service, username)


def test_names_of_different_pairs_differ() -> None:
    pairs = [("a", ""), ("", "a"), ("a/b", "c"), ("a", "b/c"), ("A", "b"), ("a", "b"), ("", "")]
    assert len({secret_name(s, u) for s, u in pairs}) == len(pairs)


@pytest.mark.parametrize("name", ["keyring/x", "other/YQ/YQ", "keyring/YQ/YQ/YQ", "keyring//YQ"])
def test_foreign_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a keyring secret name"):
        pair_of(name)


def test_registered_through_keyrings_entry_point_group() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="keyring.backends")}
    assert found["secure-secrets"] == "secure_secrets_keyring_backend.backend"
    assert SecureSecretsKeyring in set(keyring.backend.KeyringBackend.get_viable_backends())


def test_priority_is_below_every_recommended_backend() -> None:
    assert SecureSecretsKeyring.priority == PRIORITY < 1
    assert not keyring.core.recommended(SecureSecretsKeyring)  # so never in keyring's chainer


def chosen_backend(home: Path, **env: str) -> str:
    """The backend keyring picks in a fresh process with ``home`` as its config root."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_KEYRING", "KEYRING"))}
    clean.update(XDG_CONFIG_HOME=str(home), **env)
    code = "import keyring; r = keyring.get_keyring(); print(type(r).__module__, type(r).__name__)"
    return subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.slow
def test_chosen_only_when_selected(tmp_path: Path) -> None:
    ours = "secure_secrets_keyring_backend.backend SecureSecretsKeyring"
    assert chosen_backend(tmp_path) != ours  # keyrings.cryptfile (2.5) is installed here
    assert chosen_backend(
        tmp_path, PYTHON_KEYRING_BACKEND="secure_secrets_keyring_backend.SecureSecretsKeyring"
    ) == ours  # fmt: skip
    (tmp_path / "python_keyring").mkdir()
    (tmp_path / "python_keyring" / "keyringrc.cfg").write_text(
        "[backend]\ndefault-keyring = secure_secrets_keyring_backend.SecureSecretsKeyring\n"
    )
    assert chosen_backend(tmp_path) == ours


@pytest.mark.slow
def test_registration_does_not_import_secure_secrets() -> None:
    """keyring loads every registered backend in every process that uses it: ours must not
    cost those processes the import of secure-secrets until it is used."""
    code = (
        "import sys, keyring.backend\n"
        "names = [type(r).__name__ for r in keyring.backend.get_all_keyring()]\n"
        "assert 'SecureSecretsKeyring' in names, names\n"
        "print(sorted(m for m in sys.modules if m.startswith(('secrets_core', 'secure_secrets.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
