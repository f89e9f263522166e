"""The documentation is tested: every ```python block in docs/*.md runs, and the reference
pages cover every hook, error class, environment variable, config key and built-in option."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from secrets_core import config, defaults, errors
from secrets_core.config import _settings
from secrets_core.plugin import CORE_DISTRIBUTION, _registry, get_registry, hookspecs
from secrets_core.testing.docs import as_script, fenced_blocks

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md"))
LINK = re.compile(r"\]\(([a-z0-9-]+\.md)[)#]")
BUILTIN_DISTRIBUTIONS = {
    CORE_DISTRIBUTION, "secure-secrets-file", "secure-secrets-fernet", "secure-secrets-env",
    "secure-secrets-vault",
}  # fmt: skip
TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```$", re.M | re.S)
HEADING = re.compile(r"^(#+) (.*)$", re.M)


def read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def section(text: str, heading_pattern: str) -> str | None:
    """The text under the first heading matching ``heading_pattern`` (a regex), up to the
    next heading of the same or a higher level."""
    headings = list(HEADING.finditer(text))
    for i, heading in enumerate(headings):
        if re.search(heading_pattern, heading.group(2), re.I):
            level = len(heading.group(1))
            end = next((h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level), None)
            return text[heading.end() : end]
    return None


def test_every_page_is_linked_from_the_index_and_every_link_resolves() -> None:
    linked = set(LINK.findall(read("index.md")))
    assert sorted(set(PAGES) - linked - {"index.md"}) == [], "pages missing from docs/index.md"
    for page in PAGES:
        for target in LINK.findall(read(page)):
            assert (DOCS / target).exists(), f"docs/{page} links to missing {target}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", [p.name for p in sorted(DOCS.glob("*.md")) if fenced_blocks(read(p.name), "python")]
)
def test_python_blocks_run(page: str, tmp_path: Path) -> None:
    """A page's blocks run in order, in one namespace, in a fresh interpreter that inherits
    the isolated home of the ``isolated_home`` fixture."""
    script = tmp_path / f"docs_{page.replace('-', '_').replace('.', '_')}.py"
    script.write_text(as_script(read(page)), encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"docs/{page}: a python block failed (line numbers are the page's):\n{result.stderr}"
    )


def test_toml_blocks_parse_and_config_examples_load(tmp_path: Path) -> None:
    config_examples = TOML_BLOCK.findall(read("configuration.md"))
    assert config_examples, "docs/configuration.md shows the config file in ```toml blocks"
    for page in PAGES:
        for block in TOML_BLOCK.findall(read(page)):
            _settings.tomllib.loads(block)
    for block in config_examples:
        (tmp_path / "config.toml").write_text(block, encoding="utf-8")
        config.load_settings(config_path=tmp_path / "config.toml")


@pytest.mark.parametrize("hook", sorted(n for n in dir(hookspecs) if n.startswith("secrets_")))
def test_hook_is_documented_with_an_example(hook: str) -> None:
    text = section(read("hooks.md"), re.escape(f"`{hook}`"))
    assert text is not None, f"docs/hooks.md needs a heading naming `{hook}`"
    examples = [block.group(1) for block in fenced_blocks(text, "python")]
    assert any(f"@hookimpl\ndef {hook}(" in code for code in examples), (
        f"the `{hook}` section of docs/hooks.md needs a ```python example implementing it"
    )
    spec = _registry.HOOKS.get(hook)
    if spec is not None:
        assert f"{hook}() -> list[{spec.__name__}]" in text, "document the signature"


@pytest.mark.parametrize("name", errors.__all__)
def test_error_is_documented_with_its_bases(name: str) -> None:
    rows = [line for line in read("errors.md").splitlines() if line.startswith(f"| `{name}`")]
    assert rows, f"docs/errors.md needs a table row starting with `{name}`"
    for base in getattr(errors, name).__bases__:
        assert f"`{base.__name__}`" in rows[0], f"the row of {name} must name its base {base}"


def test_environment_variables_and_top_level_keys_are_documented() -> None:
    text = read("configuration.md")
    env_vars = [v for k, v in vars(defaults).items() if k.startswith("ENV_")]
    assert env_vars, "secrets_core/defaults.py defines ENV_* constants"
    missing = [v for v in env_vars if f"`{v}`" not in text]
    # Each top-level key appears in a TOML example, as `key = ...` or a `[key...]` table.
    missing += [
        key
        for key in sorted(_settings._TOP_LEVEL_KEYS)
        if not re.search(rf"^(\[{key}[.\]]|{key} =)", text, re.M)
    ]
    assert not missing, f"docs/configuration.md does not document: {missing}"


def test_builtin_plugin_options_are_documented() -> None:
    text = read("configuration.md")
    registry = get_registry()
    builtins = [
        item.split(":", 1)
        for info in registry.plugins()
        if info.distribution in BUILTIN_DISTRIBUTIONS
        for item in info.provides
        if not item.startswith("command:")  # verbs have no options: docs/cli.md has them
    ]
    assert ["backend", "file"] in builtins and ["audit sink", "jsonl"] in builtins
    missing = []
    for family, name in builtins:
        options = getattr(registry.lookup(family, name), "options", {})
        body = section(text, re.escape(f"{family} `{name}`"))
        if body is None:
            missing += [f"a heading '{family} `{name}`'"] if options else []
            continue
        same = re.search(r"takes exactly the options of `([a-z0-9-]+)`", body)
        if same:  # a section may point at another implementation's option table
            body = section(text, re.escape(f"{family} `{same.group(1)}`")) or ""
        missing += [f"{family} {name}: `{opt}`" for opt in options if f"`{opt}`" not in body]
    assert not missing, f"docs/configuration.md does not document: {missing}"
