"""The Vault tests reuse the real OpenBao session server of plugins/vault/tests (loaded by
path: test directories are not packages)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_VAULT_CONFTEST = Path(__file__).resolve().parents[3] / "plugins/vault/tests/conftest.py"
_spec = importlib.util.spec_from_file_location("vault_test_servers", _VAULT_CONFTEST)
assert _spec is not None and _spec.loader is not None
vault_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = vault_conftest  # dataclasses look their module up there
_spec.loader.exec_module(vault_conftest)

vault_server = vault_conftest.vault_server
no_vault_env = vault_conftest.no_vault_env
