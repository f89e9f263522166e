"""Every third-party module the core imports is a declared dependency of the core
distribution, so no verb of a core-only install dies with a raw ModuleNotFoundError
(``import-env`` once did: python-dotenv was declared only by the env plugin)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from click.testing import CliRunner

from secrets_core.cli.app import cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.match(r"[A-Za-z0-9._-]+", d).group(0) for d in project["dependencies"])  # type: ignore[union-attr]
    return {name.lower().replace("_", "-") for name in names}


def _third_party_imports() -> dict[str, str]:
    """Top-level module -> one core module that imports it (any import, lazy ones too).
    The conformance kit (``secrets_core.testing``) runs under the plugin author's pytest:
    its imports are the ``test`` extra's."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "secrets_core").rglob("*.py")):
        if "testing" in path.relative_to(ROOT / "secrets_core").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            for module in modules:
                top = module.partition(".")[0]
                # tomllib: the standard library from 3.11 (the declared tomli backport before)
                ours = ("secrets_core", "tomli", "tomllib")
                if top not in sys.stdlib_module_names and top not in ours:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_the_core_imports_is_a_core_dependency() -> None:
    declared = _declared()
    distributions = packages_distributions()
    missing = {
        f"{module} (imported by {where})"
        for module, where in _third_party_imports().items()
        if not {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        & declared
    }
    assert missing == set(), "add these to [project] dependencies in pyproject.toml"


def test_import_env_works_with_the_env_plugin_blocked(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("API_TOKEN=t-1\n")
    env = {"SECURE_SECRETS_PLUGINS_BLOCK": "env"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    result = runner.invoke(cli, ["import-env", str(dotenv), "--apply"], env=env)
    assert result.exit_code == 0, result.output
    assert "imported" in result.stdout and "API_TOKEN" in result.stdout
